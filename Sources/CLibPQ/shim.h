// The single C header of the CLibPQ system-library target. Only one folder of one Swift module imports CLibPQ.
#pragma once
#include <libpq-fe.h>
