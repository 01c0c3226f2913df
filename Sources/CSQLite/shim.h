// The single C header of the CSQLite system-library target. Only one folder of one Swift module imports CSQLite.
#pragma once
#include <sqlite3.h>
