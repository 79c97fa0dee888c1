// /status JSON and `smarthost status`'s table from it; the log summary line.
#include "ops/status_table.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "ops/logging.h"
#include "ops/status_report.h"
#include "tests/unit/ops/sample_snapshot.h"

namespace smarthost::ops {
namespace {

TEST(StatusReport, JsonCarriesUpstreamsQueueAlertsAndErrors) {
  auto json = status_json(test::sample_snapshot());
  auto parsed = boost::json::parse(json).as_object();
  const auto& first = parsed.at("upstreams").as_array().at(0).as_object();
  EXPECT_DOUBLE_EQ(first.at("rate_per_second").to_number<double>(), 2.5);
  EXPECT_EQ(first.at("latency_ms").to_number<int64_t>(), 312);
  EXPECT_EQ(first.at("fleet").as_string(), "local");
  EXPECT_FALSE(parsed.at("upstreams").as_array().at(1).as_object().contains("fleet")) << "not in fleet mode";
  EXPECT_EQ(parsed.at("queue").as_object().at("bytes").to_number<int64_t>(), 2 * 1024 * 1024);
  for (const char* part : {"\"version\":\"0.1.0\"", "\"name\":\"mailgun0\"", "\"state\":\"up\"",
                           "\"state\":\"down\"", "\"circuit\":\"open\"", "\"messages\":7", "\"oldest_age_seconds\":400",
                           "\"alert\":\"upstream_down:smtp \\\"backup\\\"\"", "\"error\":\"HTTP 429: slow down\"",
                           "\"sha256\":\"0123456789abcdef0123456789abcdef\"", "\"rejected\":6"}) {
    EXPECT_NE(json.find(part), std::string::npos) << part << "\n" << json;
  }
}

TEST(StatusReport, SecretsInErrorsAreMasked) {
  set_redactions({"key-supersecret"});
  auto s = test::sample_snapshot();
  s.recent_errors[0].reply = "HTTP 401: key-supersecret is not valid";
  auto json = status_json(s);
  set_redactions({});
  EXPECT_EQ(json.find("key-supersecret"), std::string::npos) << json;
  EXPECT_NE(json.find("HTTP 401: *** is not valid"), std::string::npos) << json;
}

TEST(StatusTable, PrintsUpstreamsQueueAlertsAndErrors) {
  std::string error;
  auto table = render_status_table(status_json(test::sample_snapshot()), error);
  ASSERT_TRUE(error.empty()) << error;
  EXPECT_NE(table.find("smarthost 0.1.0 on relay.test, up 1h2m, config 0123456789ab…"), std::string::npos) << table;
  EXPECT_NE(table.find("ready: yes"), std::string::npos) << table;
  EXPECT_NE(table.find("UPSTREAM"), std::string::npos) << table;
  // One row per upstream, with state, circuit, rate and latency.
  std::string row;
  for (size_t pos = 0; (pos = table.find('\n', pos)) != std::string::npos; ++pos) {
    auto line = table.substr(pos + 1, table.find('\n', pos + 1) - pos - 1);
    if (line.rfind("mailgun0", 0) == 0) row = line;
  }
  EXPECT_NE(row.find("up"), std::string::npos) << row;
  EXPECT_NE(row.find("2.50/s"), std::string::npos) << row;
  EXPECT_NE(row.find("312 ms"), std::string::npos) << row;
  EXPECT_NE(table.find("failing x3: 451 4.4.1"), std::string::npos) << table;
  EXPECT_NE(table.find("queue: 7 messages (4 active, 1 delivering, 1 held, 2 failed), 2.0 MB, oldest 6m40s"),
            std::string::npos)
      << table;
  EXPECT_NE(table.find("alerts firing:"), std::string::npos) << table;
  EXPECT_NE(table.find("2024-05-01T12:00:00Z  mailgun0  qid=Q1  HTTP 429: slow down"), std::string::npos) << table;
}

TEST(StatusTable, RefusesWhatIsNotAStatusAnswer) {
  std::string error;
  EXPECT_TRUE(render_status_table("<html>", error).empty());
  EXPECT_EQ(error, "not a smarthost /status answer");
}

TEST(StatusTable, HumanUnits) {
  EXPECT_EQ(human_age(59), "59s");
  EXPECT_EQ(human_age(3600), "1h");
  EXPECT_EQ(human_age(90061), "1d1h");
  EXPECT_EQ(human_bytes(512), "512 B");
  EXPECT_EQ(human_bytes(1536), "1.5 KB");
}

TEST(StatusReport, SummaryLineForTheLog) {
  auto line = summary_line(test::sample_snapshot());
  EXPECT_EQ(line,
            "stats: connections=2 accepted=9 rejected=6 delivered=8 deferred=2 failed=1 queue=7 oldest=400s "
            "errors=20.0% p95=400ms upstreams=[mailgun0 up 312ms, smtp \"backup\" down] alerts=1");
}

}  // namespace
}  // namespace smarthost::ops
