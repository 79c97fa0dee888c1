// The SES SMTP password derivation against published values.
#include <gtest/gtest.h>

#include "upstream/smtp/ses_smtp_password.h"

namespace smarthost::upstream::smtp {
namespace {

constexpr const char* kAwsExampleSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

TEST(SesSmtpPassword, MatchesTheAwsSdkPublishedValue) {
  // The AWS SDK for PHP tests generateSmtpPasswordV4() with AWS's documented example key in us-east-2.
  EXPECT_EQ(ses_smtp_password(kAwsExampleSecret, "us-east-2"), "BMPPgbAHoFVbze1Ud0oA5uNdXRwUXUZ+qOwphGJbl/cS");
}

TEST(SesSmtpPassword, IsRegionScopedAndVersioned) {
  std::string east1 = ses_smtp_password(kAwsExampleSecret, "us-east-1");
  EXPECT_EQ(east1, "BLBM/9hSUELfq8Gw+rU1YcBjkOxGbhT2XG763xVLGWL9");
  EXPECT_NE(east1, ses_smtp_password(kAwsExampleSecret, "eu-west-1"));
  EXPECT_EQ(east1.size(), 44u);  // base64 of 33 bytes
  EXPECT_EQ(east1[0], 'B');      // the version byte 0x04
}

TEST(SesSmtpPassword, EmptyRegionGivesNothing) { EXPECT_EQ(ses_smtp_password(kAwsExampleSecret, ""), ""); }

}  // namespace
}  // namespace smarthost::upstream::smtp
