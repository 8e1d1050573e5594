using MoeRuntime.Model.Generation;

namespace MoeRuntime.Model.Tests.Generation;

public class RequestLimitsTests
{
    static readonly RequestLimits Limits = new() { MaxTokens = 100, MaxPromptCharacters = 10, MaxStopTokens = 2, MaxLogitsCaptureTokens = 8 };

    [Fact]
    public void APromptLongerThanTheLimitIsRefusedByItsCharacters()
    {
        Limits.CheckPrompt(new string('x', 10));
        var error = Assert.Throws<ArgumentException>(() => Limits.CheckPrompt(new string('x', 11)));
        Assert.Equal("the prompt has 11 characters; this rank accepts at most 10", error.Message);
    }

    [Fact]
    public void MaxTokensAndStopTokensPastTheirCapsAreRefused()
    {
        Limits.CheckGeneration(maxTokens: 100, stopTokens: 2, captureLogits: false);
        Assert.Contains("at most 100 per request", Assert.Throws<ArgumentException>(() => Limits.CheckGeneration(101, 0, false)).Message);
        Assert.Contains("3 stop tokens; this rank accepts at most 2", Assert.Throws<ArgumentException>(() => Limits.CheckGeneration(1, 3, false)).Message);
    }

    [Fact]
    public void LogitsCaptureIsOffUnlessAllowedAndThenCapped()
    {
        Assert.Contains("logits capture is switched off", Assert.Throws<ArgumentException>(() => Limits.CheckGeneration(1, 0, true)).Message);
        RequestLimits allowed = Limits with { AllowLogitsCapture = true };
        allowed.CheckGeneration(8, 0, true);
        Assert.Contains("capturing logits generates at most 8", Assert.Throws<ArgumentException>(() => allowed.CheckGeneration(9, 0, true)).Message);
    }

    [Fact]
    public void StopStringsAreCappedInCountAndLengthAndNeverEmptyAndNamedByPosition()
    {
        RequestLimits limits = Limits with { MaxStopStrings = 2, MaxStopStringCharacters = 4 };
        limits.CheckStopStrings(null);
        limits.CheckStopStrings(["ab", "abcd"]);
        Assert.Contains("3 stop strings; this rank accepts at most 2", Assert.Throws<ArgumentException>(() => limits.CheckStopStrings(["a", "b", "c"])).Message);
        Assert.Contains("stop string 1 is empty", Assert.Throws<ArgumentException>(() => limits.CheckStopStrings(["a", ""])).Message);
        Assert.Contains("stop string 0 is empty", Assert.Throws<ArgumentException>(() => limits.CheckStopStrings([null])).Message);
        string message = Assert.Throws<ArgumentException>(() => limits.CheckStopStrings(["secret"])).Message;
        Assert.Contains("stop string 0 has 6 characters; this rank accepts at most 4", message);
        Assert.DoesNotContain("secret", message);
    }

    [Fact]
    public void LimitsOutOfRangeAreNamed()
    {
        new RequestLimits().Validate();
        Assert.Contains("RequestLimits.KvCacheBudgetBytes", Assert.Throws<ArgumentException>(() => (new RequestLimits() with { KvCacheBudgetBytes = 0 }).Validate()).Message);
        Assert.Contains("RequestLimits.MaxStopStrings", Assert.Throws<ArgumentException>(() => (new RequestLimits() with { MaxStopStrings = -1 }).Validate()).Message);
        Assert.Contains("RequestLimits.MaxStopStringCharacters",
            Assert.Throws<ArgumentException>(() => (new RequestLimits() with { MaxStopStringCharacters = 0 }).Validate()).Message);
        Assert.Contains("RequestLimits.TokenizerRegexTimeout",
            Assert.Throws<ArgumentException>(() => (new RequestLimits() with { TokenizerRegexTimeout = TimeSpan.Zero }).Validate()).Message);
    }
}
