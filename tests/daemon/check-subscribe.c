#include <stdlib.h>
#include <check.h>
int main(void)
{
	return EXIT_SUCCESS;
}
