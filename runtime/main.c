/* moat-runtime: placeholder until the docker shim lands. */
#include <stdio.h>

int
main (void)
{
  fputs ("moat-runtime: not built yet\n", stderr);
  return 2;
}
