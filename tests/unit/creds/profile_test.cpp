// Shared config/credentials parsing and profile resolution. Every expectation marked "botocore" was checked
// by running Debian's botocore 1.43 on the same file text (Session.full_config and the default resolver).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>

#include "creds/profile_file.hpp"

namespace sigv4::creds {
namespace {

profile_files parse(std::string config, std::string credentials = "") {
  auto r = parse_profile_files({"/cfg", std::move(config)}, {"/creds", std::move(credentials)});
  EXPECT_EQ(r.error, "");
  return r.files;
}

std::string parse_error(std::string config, std::string credentials = "") {
  return parse_profile_files({"/cfg", std::move(config)}, {"/creds", std::move(credentials)}).error;
}

std::map<std::string, std::string> values(const profile_files& f, const std::string& profile) {
  auto it = f.merged.find(profile);
  if (it == f.merged.end()) return {{"<missing>", ""}};
  return {it->second.values.begin(), it->second.values.end()};
}

using kv = std::map<std::string, std::string>;

// --- INI syntax -------------------------------------------------------------------------------------------

TEST(ProfileIni, CommentsWhitespaceAndColonDelimiter) {
  // botocore: inline `;` is part of the value, keys lower-cased, `:` delimits, indented comments dropped.
  auto f =
      parse("[default]\naws_access_key_id = A ; c\nAWS_Secret_Access_Key: S\n# c\n  ; indented comment\n");
  EXPECT_EQ(values(f, "default"), (kv{{"aws_access_key_id", "A ; c"}, {"aws_secret_access_key", "S"}}));
}

TEST(ProfileIni, FirstDelimiterWinsAndIndentedKeysAtSectionStart) {
  // botocore: {"a": "b = c", "b": "2"}
  auto f = parse("[default]\n a : b = c\n\tB=2\n");
  EXPECT_EQ(values(f, "default"), (kv{{"a", "b = c"}, {"b", "2"}}));
}

TEST(ProfileIni, NestedSubsectionsAndEmptyValues) {
  auto f = parse("[profile dev]\nregion=us-east-1\ns3 =\n  max = 10\n\n  addr = path\nkey_with_empty =\n");
  EXPECT_EQ(values(f, "dev"), (kv{{"key_with_empty", ""}, {"region", "us-east-1"}}));
  const auto& s3 = f.merged.at("dev").subsections.at("s3");
  EXPECT_EQ(s3, (std::map<std::string, std::string>{{"addr", "path"}, {"max", "10"}}));
  EXPECT_TRUE(f.merged.at("dev").has("s3"));
  EXPECT_EQ(f.merged.at("dev").value("s3"), nullptr);
}

TEST(ProfileIni, ContinuationLinesKeepBlankLinesAndSwallowIndentedHeaders) {
  // botocore: role_arn "a\nb\n\nc"; an indented "[profile x]" under a key is part of its value.
  auto f = parse("[default]\nrole_arn = a\n  b\n\n  c\nregion=x\n");
  EXPECT_EQ(values(f, "default"), (kv{{"region", "x"}, {"role_arn", "a\nb\n\nc"}}));
  f = parse("[default]\na=1\n  [profile x]\nb=2\n");
  EXPECT_EQ(values(f, "default"), (kv{{"a", "1\n[profile x]"}, {"b", "2"}}));
  EXPECT_EQ(f.merged.count("x"), 0u);
}

// A UTF-8 BOM is skipped deliberately (Python's parser fails on it); CR and CRLF as Python's universal
// newlines.
TEST(ProfileIni, CrlfAndBom) {
  auto f = parse("\xEF\xBB\xBF[default]\r\nregion = eu-west-1\r\n\r\n[profile b]\rregion=x\r");
  EXPECT_EQ(values(f, "default"), (kv{{"region", "eu-west-1"}}));
  EXPECT_EQ(values(f, "b"), (kv{{"region", "x"}}));
}

TEST(ProfileIni, DefaultSectionIsInheritedByEverySectionOfItsFile) {
  // botocore: default {"region": "d", "x": "1"}; a {... "aws_session_token": "T", "region": "a"}.
  auto f = parse("[DEFAULT]\nregion=d\n[default]\nx=1\n[profile a]\nregion=a\n",
                 "[DEFAULT]\naws_session_token=T\n[a]\naws_access_key_id=K\naws_secret_access_key=S\n");
  EXPECT_EQ(values(f, "default"), (kv{{"region", "d"}, {"x", "1"}}));
  EXPECT_EQ(values(f, "a"), (kv{{"aws_access_key_id", "K"},
                                {"aws_secret_access_key", "S"},
                                {"aws_session_token", "T"},
                                {"region", "a"}}));
  EXPECT_EQ(f.merged.count("DEFAULT"), 0u);
}

TEST(ProfileIni, SectionNamesAsBotocoreMapsThem) {
  // botocore: profiles "a b", "c" (from "[profiles c]"), "default"; "[profile d e]", "[profileX]" and an
  // unbalanced quote are not profiles; text after the closing bracket is ignored.
  auto f = parse(
      "[default] # trailing\nregion=y\n[profile \"a b\"]\nregion=q\n[profiles c]\nregion=c\n"
      "[profile d e]\nregion=d\n[profileX]\nr=1\n[profile 'x]\nr=2\n[sso-session s]\nr=4\n[preview]\nr=5\n");
  std::vector<std::string> names;
  for (const auto& [name, _] : f.merged) names.push_back(name);
  EXPECT_EQ(names, (std::vector<std::string>{"a b", "c", "default"}));
}

TEST(ProfileIni, ProfileDefaultAndDefaultTheLaterSectionWins) {
  EXPECT_EQ(values(parse("[profile default]\nregion=x\n[default]\nregion=y\n"), "default"),
            (kv{{"region", "y"}}));
  EXPECT_EQ(values(parse("[default]\nregion=y\n[profile default]\nregion=x\n"), "default"),
            (kv{{"region", "x"}}));
}

TEST(ProfileIni, CredentialsFileSectionsAreVerbatimNames) {
  auto f = parse("", "[profile x]\na=1\n[default]\nb=2\n");
  EXPECT_EQ(values(f, "profile x"), (kv{{"a", "1"}}));
  EXPECT_EQ(values(f, "default"), (kv{{"b", "2"}}));
  EXPECT_EQ(f.merged.count("x"), 0u);
}

TEST(ProfileIni, ErrorsNameFileAndLine) {
  // botocore refuses each of these files (ConfigParseError); we add the line.
  EXPECT_EQ(parse_error("[default]\na=1\na=2\n"), "/cfg:3: duplicate key `a`");
  EXPECT_EQ(parse_error("[default]\nA=1\na=2\n"), "/cfg:3: duplicate key `a`");
  EXPECT_EQ(parse_error("[default]\na=1\n[default]\nb=2\n"), "/cfg:3: duplicate section [default]");
  EXPECT_EQ(parse_error("# c\nregion=x\n[default]\n"),
            "/cfg:2: a `key = value` line before the first [section]");
  EXPECT_EQ(parse_error("[default]\nnovalue\nregion=x\n"), "/cfg:2: expected `key = value` or `[section]`");
  EXPECT_EQ(parse_error("[default]\n= x\n"), "/cfg:2: empty key before `=`");
  EXPECT_EQ(parse_error("[]\n"), "/cfg:1: a `key = value` line before the first [section]");
  EXPECT_EQ(parse_error("[default]\ns3 =\n  nested\n"),
            "/cfg:3: expected `key = value` in the sub-section `s3`");
  EXPECT_EQ(parse_error("", "[a]\nx=1\n\n[b]\ny\n"), "/creds:5: expected `key = value` or `[section]`");
  // Blank lines before the bad nested line count (profile_fuzz found the line read past the line numbers).
  EXPECT_EQ(parse_error("[default]\ns3 =\n  max = 1\n\n  nested\n"),
            "/cfg:5: expected `key = value` in the sub-section `s3`");
  EXPECT_EQ(parse_error("[default]\ns3 =\n\n\n\n\n  a = 1\n\n  b = 2\n\n\n  nested\n"),
            "/cfg:12: expected `key = value` in the sub-section `s3`");
}

TEST(ProfileIni, DuplicatesAcrossFilesAreFine) {
  EXPECT_EQ(parse_error("[default]\na=1\n", "[default]\na=2\n"), "");
}

// --- merging ----------------------------------------------------------------------------------------------

TEST(ProfileMerge, CredentialsFileKeysOverrideConfigKeys) {
  // botocore: dev = config's region and s3 plus the credentials file's keys.
  auto f = parse("[default]\naws_access_key_id=A\n[profile dev]\nregion=us-east-1\naws_access_key_id=C\n",
                 "[dev]\naws_access_key_id=B\naws_secret_access_key=SB\n[only]\nx=1\n");
  EXPECT_EQ(values(f, "dev"),
            (kv{{"aws_access_key_id", "B"}, {"aws_secret_access_key", "SB"}, {"region", "us-east-1"}}));
  EXPECT_EQ(values(f, "only"), (kv{{"x", "1"}}));
  EXPECT_EQ(f.config.at("dev").values.at("aws_access_key_id"), "C");  // the per-file view is kept
}

TEST(ProfileMerge, AbsentFiles) {
  auto r = parse_profile_files({"/nope/config", std::nullopt}, {"/nope/credentials", std::nullopt});
  EXPECT_EQ(r.error, "");
  EXPECT_TRUE(r.files.merged.empty());
}

TEST(ProfileMerge, LoadsFilesNamedByTheEnvironment) {
  auto dir = std::filesystem::temp_directory_path() / ("profile_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir / ".aws");
  std::ofstream(dir / "cfg") << "[profile p]\nregion = r\n";
  std::ofstream(dir / ".aws" / "credentials") << "[p]\naws_access_key_id = K\naws_secret_access_key = S\n";
  std::map<std::string, std::string> env{{"AWS_CONFIG_FILE", (dir / "cfg").string()}, {"HOME", dir.string()}};
  auto lookup = [&](const char* name) -> const char* {
    auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  };
  auto r = load_profile_files(lookup);
  EXPECT_EQ(r.error, "");
  EXPECT_EQ(r.files.credentials_path, (dir / ".aws" / "credentials").string());
  EXPECT_EQ(values(r.files, "p"),
            (kv{{"aws_access_key_id", "K"}, {"aws_secret_access_key", "S"}, {"region", "r"}}));

  std::ofstream(dir / "cfg") << "[profile p]\nregion = r\nregion = s\n";
  EXPECT_EQ(load_profile_files(lookup).error, (dir / "cfg").string() + ":3: duplicate key `region`");
  std::filesystem::remove_all(dir);
}

// --- resolution -------------------------------------------------------------------------------------------

profile_resolution resolve(const std::string& name, std::string config, std::string credentials = "") {
  return resolve_profile(name, parse(std::move(config), std::move(credentials)), true);
}

std::string error_of(const std::string& name, std::string config, std::string credentials = "") {
  auto r = resolve(name, std::move(config), std::move(credentials));
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(r.applies);
  return r.reason;
}

const static_source& static_base(const profile_resolution& r) {
  static const static_source none;
  if (!r.ok() || !std::holds_alternative<static_source>(r.plan->base)) {
    ADD_FAILURE() << "not a static base: " << r.reason;
    return none;
  }
  return std::get<static_source>(r.plan->base);
}

constexpr const char* process_json = R"(echo '{"Version":1,"AccessKeyId":"PK","SecretAccessKey":"PS"}')";

TEST(ProfileResolve, StaticKeysFromEitherFile) {
  // botocore: shared-credentials-file B/SB for dev, config-file A/S for default.
  auto f =
      parse("[default]\naws_access_key_id = A\naws_secret_access_key = S\n[profile dev]\nregion=us-east-1\n",
            "[dev]\naws_access_key_id=B\naws_secret_access_key=SB\n");
  auto dev = resolve_profile("dev", f, true);
  EXPECT_EQ(static_base(dev).creds.access_key_id, "B");
  EXPECT_EQ(static_base(dev).creds.secret_access_key, "SB");
  EXPECT_EQ(static_base(dev).file, "/creds");
  EXPECT_EQ(dev.plan->region, "us-east-1");
  EXPECT_TRUE(dev.plan->hops.empty());
  auto def = resolve_profile("default", f, false);
  EXPECT_EQ(static_base(def).creds.access_key_id, "A");
  EXPECT_EQ(static_base(def).file, "/cfg");
  EXPECT_EQ(def.plan->region, std::nullopt);
}

TEST(ProfileResolve, CredentialsFileKeysBeatProcessWhichBeatsConfigFileKeys) {
  // botocore: FK/FS with aws_security_token preferred over aws_session_token.
  auto r = resolve(
      "a", std::string("[profile a]\naws_access_key_id=CK\ncredential_process=") + process_json + "\n",
      "[a]\naws_access_key_id=FK\naws_secret_access_key=FS\naws_security_token=ST\naws_session_token=T2\n");
  EXPECT_EQ(static_base(r).creds.access_key_id, "FK");
  EXPECT_EQ(static_base(r).creds.session_token, "ST");
  // botocore: custom-process, although the config file has keys.
  r = resolve(
      "a", std::string("[profile a]\naws_access_key_id=CK\naws_secret_access_key=CS\ncredential_process=") +
               process_json + "\n");
  ASSERT_TRUE(r.ok()) << r.reason;
  EXPECT_EQ(std::get<process_source>(r.plan->base).command, process_json);
}

TEST(ProfileResolve, PartialStaticKeysAreAnError) {
  // botocore: PartialCredentialsError in shared-credentials-file (each file is read on its own).
  EXPECT_EQ(error_of("a", "[profile a]\naws_secret_access_key=CS\n", "[a]\naws_access_key_id=FK\n"),
            "profile \"a\" in /creds has aws_access_key_id but no aws_secret_access_key");
}

TEST(ProfileResolve, AssumeRoleChainWithParameters) {
  // botocore: AssumeRole R1 {ExternalId E, RoleSessionName N, DurationSeconds 900} over R2 over c's
  // config-file keys (c has role_arn too, but static keys stop the chain).
  auto r = resolve("a",
                   "[profile a]\nrole_arn=R1\nsource_profile=b\nexternal_id=E\nrole_session_name=N\n"
                   "duration_seconds=900\nregion=eu-west-2\n[profile b]\nrole_arn=R2\nsource_profile=c\n"
                   "[profile c]\naws_access_key_id=K\naws_secret_access_key=S\nrole_arn=R3\n");
  EXPECT_EQ(static_base(r).creds.access_key_id, "K");
  ASSERT_EQ(r.plan->hops.size(), 2u);
  EXPECT_EQ(r.plan->base_profile, "c");
  EXPECT_EQ(r.plan->hops[0].role_arn, "R2");
  EXPECT_EQ(r.plan->hops[0].profile, "b");
  EXPECT_EQ(r.plan->hops[0].external_id, std::nullopt);
  EXPECT_EQ(r.plan->hops[1].role_arn, "R1");
  EXPECT_EQ(r.plan->hops[1].external_id, "E");
  EXPECT_EQ(r.plan->hops[1].role_session_name, "N");
  EXPECT_EQ(r.plan->hops[1].duration_seconds, 900);
  EXPECT_EQ(r.plan->region, "eu-west-2");
}

TEST(ProfileResolve, DurationSecondsParsedLikePythonInt) {
  // botocore: " 1_000 " -> DurationSeconds 1000; "abc" is dropped silently.
  const std::string src = "[profile b]\naws_access_key_id=K\naws_secret_access_key=S\n";
  auto r = resolve("a", "[profile a]\nrole_arn=R1\nsource_profile=b\nduration_seconds= 1_000 \n" + src);
  ASSERT_TRUE(r.ok()) << r.reason;
  EXPECT_EQ(r.plan->hops[0].duration_seconds, 1000);
  r = resolve("a", "[profile a]\nrole_arn=R1\nsource_profile=b\nduration_seconds=abc\n" + src);
  ASSERT_TRUE(r.ok()) << r.reason;
  EXPECT_EQ(r.plan->hops[0].duration_seconds, std::nullopt);
}

TEST(ProfileResolve, SourceProfileLoops) {
  // botocore: InfiniteLoopConfigError in each case.
  EXPECT_EQ(
      error_of("a",
               "[profile a]\nrole_arn=R1\nsource_profile=b\n[profile b]\nrole_arn=R2\nsource_profile=a\n"),
      "source_profile loop: a -> b -> a");
  EXPECT_EQ(error_of("a", "[profile a]\nrole_arn=R1\nsource_profile=a\n"), "source_profile loop: a -> a");
  EXPECT_EQ(
      error_of("a",
               "[profile a]\nrole_arn=R1\nsource_profile=b\n[profile b]\nrole_arn=R2\nsource_profile=c\n"
               "[profile c]\nrole_arn=R3\nsource_profile=b\n"),
      "source_profile loop: a -> b -> c -> b");
  EXPECT_EQ(
      error_of("a",
               "[profile a]\nrole_arn=R1\nsource_profile=b\n[profile b]\nrole_arn=R2\nsource_profile=b\n"),
      "source_profile loop: a -> b -> b");
}

TEST(ProfileResolve, ProfileMayBeItsOwnSourceForItsStaticKeys) {
  // botocore: AssumeRole R1 with a's own config-file keys.
  auto r = resolve(
      "a", "[profile a]\nrole_arn=R1\nsource_profile=a\naws_access_key_id=K\naws_secret_access_key=S\n");
  EXPECT_EQ(static_base(r).creds.access_key_id, "K");
  ASSERT_EQ(r.plan->hops.size(), 1u);
  EXPECT_EQ(r.plan->hops[0].role_arn, "R1");
}

TEST(ProfileResolve, SourceProfileUsesTheProfileProviderOrder) {
  // botocore: custom-process (config-file keys lose to it); then shared-credentials-file (which beats it).
  auto r = resolve(
      "a", std::string("[profile a]\nrole_arn=R1\nsource_profile=b\n[profile b]\ncredential_process=") +
               process_json + "\naws_access_key_id=CK\naws_secret_access_key=CS\n");
  ASSERT_TRUE(r.ok()) << r.reason;
  EXPECT_TRUE(std::holds_alternative<process_source>(r.plan->base));
  EXPECT_EQ(r.plan->base_profile, "b");
  r = resolve("a",
              std::string("[profile a]\nrole_arn=R1\nsource_profile=b\n[profile b]\ncredential_process=") +
                  process_json + "\n",
              "[b]\naws_access_key_id=CK\naws_secret_access_key=CS\n");
  EXPECT_EQ(static_base(r).file, "/creds");
}

TEST(ProfileResolve, SourceProfileErrors) {
  // botocore: each an InvalidConfigError or PartialCredentialsError.
  EXPECT_EQ(error_of("a", "[profile a]\nrole_arn=R1\nsource_profile=zz\n"),
            "profile \"a\": source_profile \"zz\" does not exist");
  EXPECT_EQ(error_of("a", "[profile a]\nrole_arn=R1\nsource_profile=b\n[profile b]\nregion=x\n"),
            "source_profile \"b\" (of profile \"a\") has no credentials");
  EXPECT_EQ(
      error_of("a",
               "[profile a]\nrole_arn=R1\nsource_profile=b\n[profile b]\nrole_arn=R2\nsource_profile=b\n"
               "aws_secret_access_key=S\n"),
      "source_profile \"b\" (of profile \"a\") has no credentials");
  EXPECT_EQ(error_of("a", "[profile a]\nrole_arn=R1\n"),
            "profile \"a\" has role_arn but neither source_profile nor credential_source");
  EXPECT_EQ(error_of("a", "[profile a]\nrole_arn=R1\nsource_profile=b\n[profile b]\nrole_arn=R2\n"),
            "profile \"b\" has role_arn but neither source_profile nor credential_source");
  EXPECT_EQ(
      error_of("a",
               "[profile a]\nrole_arn=R1\nsource_profile=b\ncredential_source=Environment\n[profile b]\n"),
      "profile \"a\" has both source_profile and credential_source");
}

TEST(ProfileResolve, CredentialSource) {
  // botocore's canonical names, case-sensitive ("environment" is refused).
  for (auto [text, source] : {std::pair{"Environment", named_source::environment},
                              std::pair{"Ec2InstanceMetadata", named_source::ec2_instance_metadata},
                              std::pair{"EcsContainer", named_source::ecs_container}}) {
    auto r = resolve("a", std::string("[profile a]\nrole_arn=R1\ncredential_source=") + text + "\n");
    ASSERT_TRUE(r.ok()) << r.reason;
    EXPECT_EQ(std::get<named_source>(r.plan->base), source);
    EXPECT_EQ(to_string(source), text);
    ASSERT_EQ(r.plan->hops.size(), 1u);
  }
  // botocore: a source profile's credential_source works the same way.
  auto r = resolve("a",
                   "[profile a]\nrole_arn=R1\nsource_profile=b\n[profile "
                   "b]\nrole_arn=R2\ncredential_source=Environment\n");
  ASSERT_TRUE(r.ok()) << r.reason;
  EXPECT_EQ(r.plan->base_profile, "b");
  EXPECT_EQ(r.plan->hops.size(), 2u);
  EXPECT_EQ(
      error_of("a", "[profile a]\nrole_arn=R1\ncredential_source=environment\n"),
      "profile \"a\": credential_source \"environment\" is not one of Environment, Ec2InstanceMetadata, "
      "EcsContainer");
}

TEST(ProfileResolve, WebIdentity) {
  // botocore: AssumeRoleWithWebIdentity R1 {RoleSessionName W} from /tok; source_profile is then ignored.
  auto r = resolve(
      "a", "[profile a]\nrole_arn=R1\nweb_identity_token_file=/tok\nrole_session_name=W\nsource_profile=x\n");
  ASSERT_TRUE(r.ok()) << r.reason;
  const auto& w = std::get<web_identity_source>(r.plan->base);
  EXPECT_EQ(w.role_arn, "R1");
  EXPECT_EQ(w.token_file, "/tok");
  EXPECT_EQ(w.role_session_name, "W");
  EXPECT_TRUE(r.plan->hops.empty());
  // botocore: AssumeRole R1 over web identity R2.
  r = resolve(
      "a",
      "[profile a]\nrole_arn=R1\nsource_profile=b\n[profile b]\nrole_arn=R2\nweb_identity_token_file=/tok\n");
  ASSERT_TRUE(r.ok()) << r.reason;
  EXPECT_EQ(std::get<web_identity_source>(r.plan->base).role_arn, "R2");
  ASSERT_EQ(r.plan->hops.size(), 1u);
  EXPECT_EQ(r.plan->hops[0].role_arn, "R1");
  // The resolved profile may leave the role to AWS_ROLE_ARN (botocore reads the keys environment first; the
  // chain's web identity step reports a missing role): the plan carries an empty role_arn.
  r = resolve("a", "[profile a]\nweb_identity_token_file=/tok\n");
  ASSERT_TRUE(r.ok()) << r.reason;
  EXPECT_EQ(std::get<web_identity_source>(r.plan->base).role_arn, "");
  // A source profile cannot: botocore's InvalidConfigError (no role ARN).
  EXPECT_EQ(error_of("a", "[profile a]\nrole_arn=R1\nsource_profile=b\n[profile b]\nweb_identity_token_file=/tok\n"),
            "profile \"b\" has web_identity_token_file but no role_arn");
}

TEST(ProfileResolve, UnsupportedAndStricterThanBotocore) {
  // botocore would prompt for the MFA code; we cannot.
  EXPECT_EQ(
      error_of("a",
               "[profile a]\nrole_arn=R1\nsource_profile=b\nmfa_serial=M\n[profile b]\naws_access_key_id=K\n"
               "aws_secret_access_key=S\n"),
      "profile \"a\": mfa_serial is set, and prompting for an MFA code is not supported");
  // botocore: the SSO provider claims the profile before the static keys.
  EXPECT_EQ(
      error_of(
          "a",
          "[profile a]\nsso_account_id=1\nsso_role_name=r\naws_access_key_id=K\naws_secret_access_key=S\n"),
      "profile \"a\" uses IAM Identity Center (sso_*), which is not supported");
  // botocore sends an empty RoleArn to STS, or signs with an empty key; we refuse up front.
  EXPECT_EQ(
      error_of("a",
               "[profile a]\nrole_arn=\nsource_profile=a\naws_access_key_id=K\naws_secret_access_key=S\n"),
      "profile \"a\": role_arn is empty");
  EXPECT_EQ(error_of("a", "[profile a]\naws_access_key_id=\naws_secret_access_key=S\n"),
            "profile \"a\" in /cfg: empty aws_access_key_id or aws_secret_access_key");
  EXPECT_EQ(error_of("a", "[profile a]\ncredential_process =\n  a = b\n"),
            "profile \"a\": credential_process is an indented sub-section, not a value");
}

TEST(ProfileResolve, ProfileWithoutCredentialsDoesNotApply) {
  // botocore: no credentials from the profile; the chain goes on (container, IMDS).
  auto r = resolve("a", "[profile a]\nregion=x\n");
  EXPECT_FALSE(r.ok());
  EXPECT_FALSE(r.applies);
  EXPECT_NE(r.reason.find("profile \"a\" has no credentials"), std::string::npos);
}

TEST(ProfileResolve, ProfileChoiceFromTheEnvironment) {
  auto f = parse("[profile dev]\naws_access_key_id=K\naws_secret_access_key=S\n");
  auto with = [&](const char* profile) {
    return resolve_profile(f, [=](const char* name) -> const char* {
      return std::string_view(name) == "AWS_PROFILE" ? profile : nullptr;
    });
  };
  EXPECT_EQ(static_base(with("dev")).creds.access_key_id, "K");
  // botocore: ProfileNotFound for a named profile, even "default"; nothing at all when AWS_PROFILE is unset.
  auto r = with("nope");
  EXPECT_TRUE(r.applies);
  EXPECT_EQ(r.reason, "profile \"nope\" not found in /cfg or /creds");
  r = with("default");
  EXPECT_TRUE(r.applies);
  EXPECT_FALSE(r.ok());
  r = with(nullptr);
  EXPECT_FALSE(r.applies);
  EXPECT_EQ(r.reason, "no profile \"default\" in /cfg or /creds");
  r = with("");  // deliberately like the Go and Java SDKs, not botocore (which looks for a profile named "")
  EXPECT_FALSE(r.applies);
}

}  // namespace
}  // namespace sigv4::creds
