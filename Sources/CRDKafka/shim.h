// The single C header of the CRDKafka system-library target. Only one folder of one Swift module imports CRDKafka.
#pragma once
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
