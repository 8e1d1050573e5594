using MoeRuntime.Telemetry.Security;

namespace MoeRuntime.Telemetry.Tests.Security;

public sealed class RequestIdsTests
{
    [Theory]
    [InlineData("a")]
    [InlineData("chatcmpl-0123456789abcdef")]
    [InlineData("trace:2026-12-07_run.7")]
    [InlineData("0123456789012345678901234567890123456789012345678901234567890123")]
    public void IdsOfTheAlphabetUpToSixtyFourCharactersPass(string id)
    {
        Assert.True(RequestIds.IsValid(id));
        Assert.Null(RequestIds.Problem(id));
    }

    [Fact]
    public void AnEmptyIdIsRefused() => Assert.Equal("a request id must not be empty", RequestIds.Problem(""));

    [Fact]
    public void ALongIdIsRefusedWithItsLength() =>
        Assert.Equal("a request id has at most 64 characters, this one has 65", RequestIds.Problem(new string('a', 65)));

    [Theory]
    [InlineData("line\nbreak", 5)]
    [InlineData("<script>", 1)]
    [InlineData("ok id", 3)]
    [InlineData("\"quoted\"", 1)]
    [InlineData("tenant/42", 7)]
    [InlineData("caf\u00e9", 4)]
    [InlineData("ok\u0000", 3)]
    public void ACharacterOutsideTheAlphabetIsRefusedByPositionWithoutEchoingTheId(string id, int position)
    {
        string? problem = RequestIds.Problem(id);
        Assert.Equal($"a request id may hold only A-Z a-z 0-9 . _ : -; character {position} is not one of them", problem);
        Assert.False(RequestIds.IsValid(id));
    }
}
