// Base64 blobs spliced into serialized JSON: each placeholder replaced wherever it occurs, the result valid JSON
// whose strings decode to the data, and text that merely looks like a placeholder left alone.
#include "upstream/http/json_blobs.h"

#include <gtest/gtest.h>

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "upstream/http/outbound_content.h"

namespace smarthost::upstream::http {
namespace {

namespace json = boost::json;

TEST(JsonBlobs, PlaceholdersBecomeTheBase64OfTheirData) {
  std::string first(100000, '\x01'), second = "Cat";
  JsonBlobs blobs;
  json::object document{{"a", blobs.placeholder(first)}, {"b", blobs.placeholder(second)}, {"text", "plain"}};
  std::string rendered = blobs.render(json::serialize(document));
  auto parsed = json::parse(rendered).as_object();
  EXPECT_EQ(parsed.at("a").as_string(), base64_encode(first));
  EXPECT_EQ(parsed.at("b").as_string(), "Q2F0");
  EXPECT_EQ(parsed.at("text").as_string(), "plain");
}

TEST(JsonBlobs, APlaceholderUsedTwiceIsFilledTwice) {
  JsonBlobs blobs;
  std::string data = "xyz";
  std::string p = blobs.placeholder(data);
  std::string doc = json::serialize(json::array{json::object{{"c", p}}, json::object{{"c", p}}});
  EXPECT_EQ(blobs.render(doc), R"([{"c":"eHl6"},{"c":"eHl6"}])");
}

TEST(JsonBlobs, LookalikesAndUnknownIndicesStayAsTheyAre) {
  JsonBlobs blobs, other;
  std::string data = "abc";
  std::string mine = blobs.placeholder(data);
  std::string theirs = other.placeholder(data);  // another build's marker: not ours to fill
  std::string unknown = mine.substr(0, mine.size() - 1) + "7";
  std::string doc = json::serialize(json::array{mine, theirs, unknown, "smarthost-blob-"});
  auto out = json::parse(blobs.render(doc)).as_array();
  EXPECT_EQ(out[0].as_string(), "YWJj");
  EXPECT_EQ(out[1].as_string(), theirs);
  EXPECT_EQ(out[2].as_string(), unknown);
  EXPECT_EQ(out[3].as_string(), "smarthost-blob-");
  JsonBlobs none;
  EXPECT_EQ(none.render(R"({"a":1})"), R"({"a":1})");
}

}  // namespace
}  // namespace smarthost::upstream::http
