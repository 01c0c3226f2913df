// The single C header of the CLZ4 system-library target. Only one folder of one Swift module imports CLZ4.
#pragma once
#include <lz4.h>
