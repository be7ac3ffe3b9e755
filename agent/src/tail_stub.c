/* tailer: see tail.h */
#include "tail.h"
