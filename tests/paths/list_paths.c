/*
 * list_paths.c - prints the kernel paths this machine can run, one name a
 * line, from the registry (fattn_isa_name over 1 .. FATTN_ISA_COUNT - 1):
 * what scripts/test.sh runs the suite under, instead of parsing the text
 * of `fattn info`. FATTN_ISA is ignored: availability is the CPU's and the
 * build's.
 */
#include "fattn.h"

#include <stdio.h>

int main(void)
{
    for (int isa = FATTN_ISA_AUTO + 1; isa < FATTN_ISA_COUNT; isa++)
        if (fattn_isa_available(isa))
            printf("%s\n", fattn_isa_name(isa));
    return 0;
}
