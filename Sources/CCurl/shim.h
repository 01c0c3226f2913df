// The single C header of the CCurl system-library target. Only one folder of one Swift module imports CCurl.
//
// curl_easy_setopt and curl_easy_getinfo are variadic, which Swift cannot call: these typed wrappers are the
// only C this target adds.
#pragma once
#include <curl/curl.h>

static inline CURLcode pl_curl_set_long(CURL *handle, CURLoption option, long value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode pl_curl_set_offset(CURL *handle, CURLoption option, curl_off_t value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode pl_curl_set_pointer(CURL *handle, CURLoption option, const void *value) {
    return curl_easy_setopt(handle, option, value);
}

typedef size_t (*pl_curl_write_function)(char *data, size_t size, size_t count, void *context);

static inline CURLcode pl_curl_set_write_function(CURL *handle, pl_curl_write_function function) {
    return curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, function);
}

static inline CURLcode pl_curl_response_code(CURL *handle, long *code) {
    return curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, code);
}
