using MoeRuntime.Telemetry.Security;

namespace MoeRuntime.Telemetry.Tests.Security;

public sealed class AccessTokensTests
{
    readonly AccessTokens _tokens = new(["viewer-one", "viewer-two"], ["operator-one"]);

    [Theory]
    [InlineData("viewer-one", AccessRole.Viewer)]
    [InlineData("viewer-two", AccessRole.Viewer)]
    [InlineData("operator-one", AccessRole.Operator)]
    public void EachTokenHasItsRole(string token, AccessRole role) => Assert.Equal(role, _tokens.RoleOf(token));

    [Theory]
    [InlineData("")]
    [InlineData("viewer-on")]
    [InlineData("viewer-one ")]
    [InlineData("VIEWER-ONE")]
    [InlineData("operator-one-and-more")]
    public void AnythingElseHasNoRole(string presented) => Assert.Null(_tokens.RoleOf(presented));

    [Fact]
    public void AnOperatorMayDoWhatAViewerMayButNotTheOtherWayRound()
    {
        Assert.True(AccessTokens.Grants(AccessRole.Operator, AccessRole.Viewer));
        Assert.True(AccessTokens.Grants(AccessRole.Operator, AccessRole.Operator));
        Assert.True(AccessTokens.Grants(AccessRole.Viewer, AccessRole.Viewer));
        Assert.False(AccessTokens.Grants(AccessRole.Viewer, AccessRole.Operator));
    }

    [Fact]
    public void ALongPresentedTokenIsComparedWithoutFailing() =>
        Assert.Null(_tokens.RoleOf(new string('x', 10_000)));

    [Fact]
    public void ATokenGivenBothRolesOrABlankTokenIsRefusedWithoutShowingTheToken()
    {
        var both = Assert.Throws<ArgumentException>(() => new AccessTokens(["same-token"], ["same-token"]));
        Assert.Contains("both a viewer and an operator token", both.Message);
        Assert.DoesNotContain("same-token", both.Message);
        Assert.Contains(AccessTokens.Fingerprint("same-token"), both.Message);
        Assert.Contains("operator token must not be blank", Assert.Throws<ArgumentException>(() => new AccessTokens([], [" "])).Message);
    }

    [Fact]
    public void AFingerprintIsEightHexDigitsOfTheSha256AndRevealsNothingElse()
    {
        // SHA-256("abc") begins ba7816bf.
        Assert.Equal("ba7816bf", AccessTokens.Fingerprint("abc"));
        string token = "0123456789abcdef0123456789abcdef";
        string fingerprint = AccessTokens.Fingerprint(token);
        Assert.Matches("^[0-9a-f]{8}$", fingerprint);
        Assert.DoesNotContain(fingerprint, token);
        Assert.NotEqual(fingerprint, AccessTokens.Fingerprint(token + "0"));
    }

    [Fact]
    public void RolesAreCounted()
    {
        Assert.Equal(2, _tokens.Count(AccessRole.Viewer));
        Assert.Equal(1, _tokens.Count(AccessRole.Operator));
    }
}
