using System.Security.Cryptography;
using System.Text;
using MoeRuntime.Telemetry.Security;

namespace MoeRuntime.Telemetry.Tests.Security;

public sealed class TenantPseudonymsTests
{
    const string Key = "cluster-secret-0123456789abcdef-0123";

    [Fact]
    public void APseudonymIsTheTruncatedHmacSha256OfTheTenantUnderTheKey()
    {
        byte[] mac = HMACSHA256.HashData(Encoding.UTF8.GetBytes(Key), Encoding.UTF8.GetBytes("alice"));
        Assert.Equal(Convert.ToHexStringLower(mac.AsSpan(0, 8)), new TenantPseudonyms(Key).Of("alice"));
    }

    [Fact]
    public void TheSameKeyGivesTheSamePseudonymOnEveryRankAndTenantsDiffer()
    {
        var rankA = new TenantPseudonyms(Key);
        var rankB = new TenantPseudonyms(Key);
        Assert.Equal(rankA.Of("alice"), rankB.Of("alice"));
        Assert.NotEqual(rankA.Of("alice"), rankA.Of("bob"));
        Assert.Matches("^[0-9a-f]{16}$", rankA.Of("alice"));
        Assert.False(rankA.IsEphemeral);
    }

    [Fact]
    public void WithoutTheKeyThePlainHashOfTheNameDoesNotMatch()
    {
        string pseudonym = new TenantPseudonyms(Key).Of("alice");
        // The old pseudonym, guessable by hashing candidate tenant names.
        string plain = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes("alice")).AsSpan(0, 8));
        Assert.NotEqual(plain, pseudonym);
        Assert.NotEqual(pseudonym, new TenantPseudonyms(Key + "x").Of("alice"));
    }

    [Fact]
    public void NoKeyMakesAnEphemeralOneAndAShortKeyIsRefused()
    {
        var first = new TenantPseudonyms(null);
        var second = new TenantPseudonyms("");
        Assert.True(first.IsEphemeral);
        Assert.NotEqual(first.Of("alice"), second.Of("alice"));
        var e = Assert.Throws<ArgumentException>(() => new TenantPseudonyms("short"));
        Assert.Contains("at least 32 characters, this one has 5", e.Message);
    }

    [Fact]
    public void LongTenantNamesAreHashedToo() =>
        Assert.Matches("^[0-9a-f]{16}$", new TenantPseudonyms(Key).Of(new string('t', 5000)));
}
