// strings.cpp - the program's own leak of std::strings, N of them (argv[1])
//
// Each string object (32 bytes, operator new in make_names) and its text,
// grown by append() inside libstdc++ (_M_mutate: a 75-byte block, the
// 38-byte first one freed) is leaked: 107 bytes in 2 blocks per string.
// The stack of the text may stop in libstdc++ (no frame pointers there):
// it is still the program's leak, not the runtime's.  std::cout makes the
// runtime allocate stdout's buffer, and libstdc++ its emergency pool.
#include <iostream>
#include <string>

__attribute__((noinline)) static void make_names(int n)
{
	for (int i = 0; i < n; i++) {
		std::string *s = new std::string("a name long enough to be on the heap "); // @string_new
		s->append(std::to_string(i % 10)); // @string_append
	}
}

int main(int argc, char **argv)
{
	make_names(argc > 1 ? std::atoi(argv[1]) : 100);
	std::cout << "made names" << std::endl;
	return 0;
}
