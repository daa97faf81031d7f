// unit_tests.cpp - small GoogleTest cases, built by docs/cpp.md's CMakeLists.txt:
// plain TESTs, a TEST_P with two instances, a typed test, and one case that
// leaks when MG_SUITE_LEAK is set
#include <cstdlib>
#include <map>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include <gtest/gtest.h>

static std::string join(const std::vector<std::string> &parts, char sep)
{
	std::string out;
	for (size_t i = 0; i < parts.size(); i++) {
		if (i)
			out += sep;
		out += parts[i];
	}
	return out;
}

static std::vector<std::string> split(const std::string &s, char sep)
{
	std::vector<std::string> out(1);
	for (char c : s) {
		if (c == sep)
			out.emplace_back();
		else
			out.back() += c;
	}
	return out;
}

TEST(Join, Empty) { EXPECT_EQ(join({}, ','), ""); }
TEST(Join, Three) { EXPECT_EQ(join({"a", "b", "c"}, ','), "a,b,c"); }
TEST(Split, Three) { EXPECT_EQ(split("a,b,c", ',').size(), 3u); }

TEST(Cache, Fill)
{
	std::map<int, std::string> cache;
	for (int i = 0; i < 100; i++)
		cache[i] = std::string(40, 'x');
	EXPECT_EQ(cache.size(), 100u);
}

TEST(Cache, Evict)
{
	auto *entry = new std::vector<int>(256);
	std::iota(entry->begin(), entry->end(), 0);
	EXPECT_EQ((*entry)[255], 255);
	// the regression under test: the entry is forgotten, never deleted
	if (!std::getenv("MG_SUITE_LEAK"))
		delete entry;
}

TEST(Buffer, Unique)
{
	auto b = std::make_unique<char[]>(4096);
	b[0] = 1;
	EXPECT_EQ(b[0], 1);
}

TEST(Buffer, Shared)
{
	auto a = std::make_shared<std::vector<int>>(64, 7);
	auto b = a;
	EXPECT_EQ(b->at(63), 7);
}

TEST(DISABLED_Slow, Never) { FAIL(); }

class JoinP : public ::testing::TestWithParam<int> {};

TEST_P(JoinP, RoundTrip)
{
	std::vector<std::string> parts(GetParam(), "part");
	EXPECT_EQ(split(join(parts, ';'), ';'), parts);
}

INSTANTIATE_TEST_SUITE_P(Sizes, JoinP, ::testing::Values(4, 8));

template <typename T> class Typed : public ::testing::Test {};
using Types = ::testing::Types<int, double>;
TYPED_TEST_SUITE(Typed, Types);

TYPED_TEST(Typed, Vector)
{
	std::vector<TypeParam> v(32);
	EXPECT_EQ(v.size(), 32u);
}
