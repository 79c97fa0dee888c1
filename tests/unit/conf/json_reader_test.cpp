// The JSON-with-comments reader: values, positions of keys and values, comments, trailing commas, escapes,
// and its syntax errors with line:column.
#include <gtest/gtest.h>

#include "conf/readers.h"

namespace smarthost::conf {
namespace {

ParsedTree parse(std::string_view text) { return parse_json(text, std::make_shared<const std::string>("t.json")); }

TEST(ConfJsonReader, ReadsEveryKindOfValueInDocumentOrder) {
  ParsedTree p = parse(R"({"s": "x", "i": -42, "f": 2.5, "e": 1e3, "t": true, "n": false, "a": [1, "two"], "o": {}})");
  ASSERT_TRUE(p.tree) << (p.errors.empty() ? "" : p.errors[0].to_string());
  const Node& root = *p.tree;
  ASSERT_EQ(root.members.size(), 8u);
  EXPECT_EQ(root.members[0].key, "s");
  EXPECT_EQ(root.find("s")->value.text, "x");
  EXPECT_EQ(root.find("i")->value.kind, Node::Kind::integer);
  EXPECT_EQ(root.find("i")->value.integer, -42);
  EXPECT_EQ(root.find("f")->value.kind, Node::Kind::floating);
  EXPECT_DOUBLE_EQ(root.find("f")->value.floating, 2.5);
  EXPECT_EQ(root.find("e")->value.kind, Node::Kind::floating);
  EXPECT_TRUE(root.find("t")->value.boolean);
  EXPECT_EQ(root.find("n")->value.kind, Node::Kind::boolean);
  ASSERT_EQ(root.find("a")->value.items.size(), 2u);
  EXPECT_EQ(root.find("a")->value.items[1].text, "two");
  EXPECT_TRUE(root.find("o")->value.is_table());
}

TEST(ConfJsonReader, KeepsLineAndColumnOfKeysAndValues) {
  ParsedTree p = parse("{\n\t\"config\": {\n\t\t\"port\": 587\n\t}\n}\n");
  ASSERT_TRUE(p.tree);
  const Member* config = p.tree->find("config");
  ASSERT_NE(config, nullptr);
  EXPECT_EQ(config->key_origin.line, 2);
  EXPECT_EQ(config->key_origin.column, 2);
  const Member* port = config->value.find("port");
  EXPECT_EQ(port->key_origin.line, 3);
  EXPECT_EQ(port->key_origin.column, 3);
  EXPECT_EQ(port->value.origin.line, 3);
  EXPECT_EQ(port->value.origin.column, 11);
  EXPECT_EQ(*port->value.origin.file, "t.json");
}

TEST(ConfJsonReader, ColumnsCountCharactersNotBytes) {
  ParsedTree p = parse("{\"name\": \"Müller\", \"x\": 1}");
  ASSERT_TRUE(p.tree);
  EXPECT_EQ(p.tree->find("x")->key_origin.column, 20);
}

TEST(ConfJsonReader, AcceptsCommentsAndTrailingCommas) {
  ParsedTree p = parse(
      "// leading\n{\n  /* block\n  comment */ \"a\": 1, // after\n  \"b\": [1, 2,],\n  \"c\": {\"d\": /* x */ 2,},\n}\n");
  ASSERT_TRUE(p.tree) << p.errors[0].to_string();
  EXPECT_EQ(p.tree->find("a")->value.integer, 1);
  EXPECT_EQ(p.tree->find("b")->value.items.size(), 2u);
  EXPECT_EQ(p.tree->find("c")->value.find("d")->value.integer, 2);
  EXPECT_EQ(p.tree->find("a")->key_origin.line, 4);
}

TEST(ConfJsonReader, DecodesEscapes) {
  ParsedTree p = parse(R"({"s": "q\"b\\s\/n\nt\tu\u00e9\ud83d\ude00"})");
  ASSERT_TRUE(p.tree);
  EXPECT_EQ(p.tree->find("s")->value.text, "q\"b\\s/n\nt\tu\xC3\xA9\xF0\x9F\x98\x80");
}

TEST(ConfJsonReader, SyntaxErrorsHaveAPosition) {
  struct Case {
    std::string text;
    int line;
    int column;
    std::string needle;
  };
  const std::vector<Case> cases{
      {"{\n  \"a\": 1\n  \"b\": 2\n}", 3, 3, "expected ',' or '}'"},
      {"{\"a\": nul}", 1, 7, "expected a value"},
      {"{\"a\": null}", 1, 7, "null is not a valid value"},
      {"{\"a\": 1, \"a\": 2}", 1, 10, "duplicate key 'a'"},
      {"{\"a\": \"x}", 1, 10, "unterminated string"},
      {"{\"a\": \"\\q\"}", 1, 9, "unknown escape"},
      {"{\"a\": 1 /* open", 1, 9, "unterminated /* comment"},
      {"[1, 2]", 1, 1, "the top level must be a JSON object"},
      {"{\"a\": 99999999999999999999}", 1, 7, "integer out of range"},
      {"{\"a\": 1} x", 1, 10, "unexpected text after"},
      {"{\"a\": \"\\ud800\"}", 1, 14, "surrogate"},
      {"{\"a\": -}", 1, 8, "digits after '-'"},
      {"{\"a\": {", 1, 8, "unexpected end of file"},
  };
  for (const Case& c : cases) {
    ParsedTree p = parse(c.text);
    ASSERT_FALSE(p.tree) << c.text;
    ASSERT_EQ(p.errors.size(), 1u) << c.text;
    EXPECT_EQ(p.errors[0].line, c.line) << c.text << " -> " << p.errors[0].to_string();
    EXPECT_EQ(p.errors[0].column, c.column) << c.text << " -> " << p.errors[0].to_string();
    EXPECT_NE(p.errors[0].message.find(c.needle), std::string::npos) << p.errors[0].to_string();
  }
}

TEST(ConfJsonReader, DeepNestingIsRefused) {
  std::string text = "{\"a\":";
  for (int i = 0; i < 100; ++i) text += "[";
  ParsedTree p = parse(text);
  ASSERT_FALSE(p.tree);
  EXPECT_NE(p.errors[0].message.find("nesting deeper than 64"), std::string::npos);
}

TEST(ConfJsonReader, NameSelectsTheFormat) {
  EXPECT_TRUE(is_json_name("/etc/smarthost/smarthost.json"));
  EXPECT_FALSE(is_json_name("/etc/smarthost/smarthost.toml"));
  EXPECT_FALSE(is_json_name("json"));
}

}  // namespace
}  // namespace smarthost::conf
