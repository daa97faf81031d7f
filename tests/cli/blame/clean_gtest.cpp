// clean_gtest.cpp - GoogleTest cases that leak nothing: only the runtime keeps blocks
#include <gtest/gtest.h>
#include <string>
#include <vector>

TEST(Clean, Arithmetic) { EXPECT_EQ(2 + 2, 4); }

TEST(Clean, Strings)
{
	std::vector<std::string> v(10, std::string(100, 'x'));
	EXPECT_EQ(v.size(), 10u);
}
