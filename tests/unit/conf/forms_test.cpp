// The three upstream forms become one ordered list plus a routing strategy; names default to provider + index;
// the rules of each form (weights only when balancing, a primary before fallbacks, unique names).
#include <gtest/gtest.h>

#include "tests/unit/conf/load_text.h"

namespace smarthost::conf::test {
namespace {

std::vector<std::string> names(const Config& c) {
  std::vector<std::string> out;
  for (const Upstream& u : c.upstreams) out.push_back(u.name);
  return out;
}

TEST(ConfForms, SingleProvider) {
  LoadResult r = load("provider = \"sendgrid\"\n[config]\napi_key = \"k\"\n[options]\nrate_limit = 5\n");
  ASSERT_TRUE(r.ok()) << joined(r.errors);
  EXPECT_EQ(r.config->routing, Routing::single);
  ASSERT_EQ(r.config->upstreams.size(), 1u);
  EXPECT_EQ(r.config->upstreams[0].name, "sendgrid0");
  EXPECT_EQ(r.config->upstreams[0].provider, ProviderKind::sendgrid);
  EXPECT_EQ(r.config->upstreams[0].options.rate_limit, 5u);
  EXPECT_EQ(std::get<SendgridConfig>(r.config->upstreams[0].config).api_key, "k");
}

TEST(ConfForms, SingleProviderWithName) {
  LoadResult r = load("provider = \"file\"\nname = \"outbox\"\n[config]\ndir = \"/x\"\n");
  ASSERT_TRUE(r.ok()) << joined(r.errors);
  EXPECT_EQ(names(*r.config), std::vector<std::string>{"outbox"});
}

TEST(ConfForms, FailoverKeepsOrderAndPolicy) {
  LoadResult r = load(
      "[primary_provider]\nprovider = \"sendgrid\"\n[primary_provider.config]\napi_key = \"k\"\n"
      "[[fallback_providers]]\nprovider = \"mailgun\"\n[fallback_providers.config]\napi_key = \"k\"\n"
      "domain = \"mg.example.com\"\n"
      "[[fallback_providers]]\nprovider = \"smtp\"\nname = \"backup\"\n[fallback_providers.config]\n"
      "host = \"smtp.example.com\"\n[fallback_providers.options]\ntimeout = 10\n"
      "[failover_policy]\nmax_retries = 2\n[failover_policy.circuit_breaker]\nfailure_threshold = 7\n");
  ASSERT_TRUE(r.ok()) << joined(r.errors);
  const Config& c = *r.config;
  EXPECT_EQ(c.routing, Routing::failover);
  EXPECT_EQ(names(c), (std::vector<std::string>{"sendgrid0", "mailgun1", "backup"}));
  EXPECT_EQ(c.upstreams[1].provider, ProviderKind::mailgun);
  EXPECT_EQ(c.upstreams[2].options.timeout, Seconds{10});
  EXPECT_EQ(c.upstreams[1].options.timeout, Seconds{30});
  EXPECT_EQ(c.failover_policy.max_retries, 2u);
  EXPECT_EQ(c.failover_policy.circuit_breaker.failure_threshold, 7u);
  EXPECT_EQ(c.failover_policy.circuit_breaker.recovery_timeout, Seconds{300});
}

TEST(ConfForms, PrimaryAlone) {
  LoadResult r = load("[primary_provider]\nprovider = \"file\"\n[primary_provider.config]\ndir = \"/x\"\n");
  ASSERT_TRUE(r.ok()) << joined(r.errors);
  EXPECT_EQ(r.config->routing, Routing::failover);
  EXPECT_EQ(names(*r.config), std::vector<std::string>{"file0"});
}

TEST(ConfForms, EveryBalancingStrategy) {
  const std::vector<std::pair<std::string, Routing>> strategies{{"round_robin", Routing::round_robin},
                                                                {"weighted", Routing::weighted},
                                                                {"least_connections", Routing::least_connections},
                                                                {"response_time", Routing::response_time}};
  for (const auto& [name, routing] : strategies) {
    LoadResult r = load("[load_balancing]\nstrategy = \"" + name +
                        "\"\n[[load_balancing.providers]]\nprovider = \"file\"\nweight = 60\n"
                        "[load_balancing.providers.config]\ndir = \"/a\"\n[[load_balancing.providers]]\n"
                        "provider = \"file\"\nweight = 40\n[load_balancing.providers.config]\ndir = \"/b\"\n");
    ASSERT_TRUE(r.ok()) << name << "\n" << joined(r.errors);
    EXPECT_EQ(r.config->routing, routing) << name;
    EXPECT_EQ(names(*r.config), (std::vector<std::string>{"file0", "file1"}));
    EXPECT_EQ(r.config->upstreams[0].weight, 60u);
    EXPECT_EQ(r.config->upstreams[1].weight, 40u);
  }
}

TEST(ConfForms, BalancingDefaultsToRoundRobinAndWeightOne) {
  LoadResult r = load(
      "[load_balancing]\n[[load_balancing.providers]]\nprovider = \"file\"\n[load_balancing.providers.config]\n"
      "dir = \"/a\"\n");
  ASSERT_TRUE(r.ok()) << joined(r.errors);
  EXPECT_EQ(r.config->routing, Routing::round_robin);
  EXPECT_EQ(r.config->upstreams[0].weight, 1u);
}

TEST(ConfForms, TheThreeFormsDescribeTheSameUpstreamTheSameWay) {
  const std::string body = "dir = \"/x\"\nfrom_email = \"a@example.com\"\n";
  LoadResult single = load("provider = \"file\"\n[config]\n" + body);
  LoadResult failover = load("[primary_provider]\nprovider = \"file\"\n[primary_provider.config]\n" + body);
  LoadResult balanced =
      load("[load_balancing]\n[[load_balancing.providers]]\nprovider = \"file\"\n[load_balancing.providers.config]\n" +
           body);
  ASSERT_TRUE(single.ok() && failover.ok() && balanced.ok());
  for (const LoadResult* r : {&failover, &balanced}) {
    const Upstream& u = r->config->upstreams[0];
    EXPECT_EQ(u.name, single.config->upstreams[0].name);
    EXPECT_EQ(std::get<FileConfig>(u.config).dir, "/x");
    EXPECT_EQ(u.common.from_email, "a@example.com");
  }
}

TEST(ConfForms, JsonFormsMatchTomlForms) {
  LoadResult r = load(R"({
    "load_balancing": {"strategy": "weighted", "providers": [
      {"provider": "postmark", "weight": 2, "config": {"server_token": "t"}},
      {"provider": "ses", "config": {"aws_access_key_id": "a", "aws_secret_access_key": "s", "region": "us-east-1"}}
    ]}
  })",
                      "lb.json");
  ASSERT_TRUE(r.ok()) << joined(r.errors);
  EXPECT_EQ(r.config->routing, Routing::weighted);
  EXPECT_EQ(names(*r.config), (std::vector<std::string>{"postmark0", "ses1"}));
}

struct FormError {
  std::string text;
  std::string needle;
};

TEST(ConfForms, FormRulesAreEnforced) {
  const std::vector<FormError> cases{
      {"[load_balancing]\nstrategy = \"random\"\n[[load_balancing.providers]]\nprovider = \"file\"\n"
       "[load_balancing.providers.config]\ndir = \"/a\"\n",
       "'strategy' in [load_balancing] must be one of \"round_robin\", \"weighted\", \"least_connections\" or "
       "\"response_time\"; got \"random\""},
      {"[load_balancing]\nstrategy = \"weigted\"\n[[load_balancing.providers]]\nprovider = \"file\"\n"
       "[load_balancing.providers.config]\ndir = \"/a\"\n",
       "did you mean \"weighted\"?"},
      {"[load_balancing]\n[[load_balancing.providers]]\nprovider = \"file\"\nweight = 0\n"
       "[load_balancing.providers.config]\ndir = \"/a\"\n",
       "'weight' in [load_balancing.providers[0]] must be from 1 to 1000; got 0"},
      {"[load_balancing]\nstrategy = \"weighted\"\n", "missing 'providers' in [load_balancing]"},
      {"[load_balancing]\nproviders = []\n", "'providers' in [load_balancing] is empty"},
      {"[load_balancing]\nstratgy = \"weighted\"\nproviders = []\n",
       "unknown key 'stratgy' in [load_balancing]; did you mean 'strategy'?"},
      {"[primary_provider]\nprovider = \"file\"\nweight = 2\n[primary_provider.config]\ndir = \"/a\"\n",
       "'weight' in [primary_provider] applies only to [[load_balancing.providers]]"},
      {"[[fallback_providers]]\nprovider = \"file\"\n[fallback_providers.config]\ndir = \"/a\"\n",
       "'fallback_providers' needs a [primary_provider]"},
      {"[primary_provider]\nprovder = \"file\"\n", "missing 'provider' in [primary_provider]"},
      {"[primary_provider]\nprovider = \"file\"\nconfg = {}\n[primary_provider.config]\ndir = \"/a\"\n",
       "unknown key 'confg' in [primary_provider]; did you mean 'config'?"},
      {"primary_provider = \"file\"\n", "'primary_provider' at the top level must be a table; got a string"},
      {"[primary_provider]\nprovider = \"file\"\n[primary_provider.config]\ndir = \"/a\"\n[options]\nrate_limit = 1\n",
       "'options' at the top level belongs to the single form"},
      {"[config]\ndir = \"/a\"\n", "'config' at the top level belongs to a single upstream: add 'provider'"},
      {"provider = \"file\"\nconfig = \"dir=/a\"\n", "'config' at the top level must be a table; got a string"},
      {"provider = \"file\"\nname = \"has space\"\n[config]\ndir = \"/a\"\n",
       "'name' at the top level: a name may use letters, digits"},
      {"provider = 5\n", "'provider' at the top level must be one of \"smtp\""},
  };
  for (const FormError& c : cases) {
    LoadResult r = load(c.text);
    ASSERT_FALSE(r.ok()) << c.text;
    bool found = false;
    for (const Diagnostic& d : r.errors) found = found || d.message.find(c.needle) != std::string::npos;
    EXPECT_TRUE(found) << c.text << "\nexpected: " << c.needle << "\ngot:\n" << joined(r.errors);
    for (const Diagnostic& d : r.errors) EXPECT_GT(d.line, 0) << d.to_string();
  }
}

TEST(ConfForms, DuplicateNamesAreRejected) {
  LoadResult r = load(
      "[primary_provider]\nprovider = \"file\"\nname = \"out\"\n[primary_provider.config]\ndir = \"/a\"\n"
      "[[fallback_providers]]\nprovider = \"file\"\nname = \"out\"\n[fallback_providers.config]\ndir = \"/b\"\n");
  ASSERT_EQ(r.errors.size(), 1u) << joined(r.errors);
  EXPECT_EQ(r.errors[0].to_string(),
            "test.toml:8:1: upstream name 'out' is used twice; give each upstream its own 'name'");
}

TEST(ConfForms, DefaultNamesFollowTheIndexEvenAfterABadEntry) {
  LoadResult r = load(
      "[primary_provider]\nprovider = \"nope\"\n"
      "[[fallback_providers]]\nprovider = \"file\"\n[fallback_providers.config]\ndir = \"/b\"\n");
  ASSERT_EQ(r.errors.size(), 1u) << joined(r.errors);
  EXPECT_NE(r.errors[0].message.find("got \"nope\""), std::string::npos);
}

}  // namespace
}  // namespace smarthost::conf::test
