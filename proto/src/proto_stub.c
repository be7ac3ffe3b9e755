/* Placeholder until the codec lands; removed by the proto work. */
#include "slt/proto.h"
