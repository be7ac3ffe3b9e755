/* Placeholder until the loader lands; removed by the config work. */
#include "slt/config.h"
