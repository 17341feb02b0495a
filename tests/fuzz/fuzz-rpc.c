/*
 * The libFuzzer target over the request path: each input is the bytes one
 * client writes to the socket of a real in-process daemon (see fuzzd.h).
 * Built with -Dfuzz=true (clang); check-fuzz-replay.c runs the same inputs
 * without libFuzzer in every build.
 */
#include <stddef.h>
#include <stdint.h>

#include "fuzzd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzzd_feed(data, size);
	return 0;
}
