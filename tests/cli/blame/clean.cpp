// clean.cpp - frees everything it allocates; only the runtime keeps blocks
#include <iostream>
#include <map>
#include <string>
#include <vector>

int main()
{
	std::vector<std::string> v;
	std::map<std::string, int> m;
	for (int i = 0; i < 100; i++) {
		v.push_back("a string long enough for the heap " + std::to_string(i));
		m[v.back()] = i;
	}
	std::cout << v.size() << " " << m.size() << std::endl;
	std::cerr << "done" << std::endl;
	return 0;
}
