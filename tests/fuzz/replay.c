/*
 * Runs a fuzz target over files (a corpus) without libFuzzer, so every
 * build exercises the targets; with clang, build the same target with
 * -fsanitize=fuzzer to fuzz for real (see tests/fuzz/README.md).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv)
{
	int count = 0;
	for (int i = 1; i < argc; i++) {
		FILE *f = fopen(argv[i], "rb");
		if (!f) {
			perror(argv[i]);
			printf("fuzz-replay: %d passed, 1 failed\n", count);
			return 1;
		}
		static uint8_t buf[1 << 20];
		size_t n = fread(buf, 1, sizeof(buf), f);
		fclose(f);
		LLVMFuzzerTestOneInput(buf, n);
		count++;
	}
	printf("fuzz-replay: %d passed, 0 failed\n", count);
	return 0;
}
