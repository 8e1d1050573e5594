using System.Runtime.CompilerServices;
using Microsoft.Extensions.DependencyInjection;
using MoeRuntime.Client;
using MoeRuntime.Grains.Telemetry;
using MoeRuntime.Telemetry.Catalogue;

namespace MoeRuntime.Grains.Tests;

/// <summary>
/// Stop strings on a real router: the batcher ends the sequence at the token whose text completes one, the request is a
/// success with finish reason stop (never a cancellation), the stop string is never sent, text held back is released
/// when generation ends otherwise, and a resumed stream neither misses nor re-triggers a stop across the seam.
/// </summary>
public sealed class StopStringTests(OneRankFixture fixture) : IClassFixture<OneRankFixture>
{
    const string Prompt = "Stop strings end it here";
    const int MaxTokens = 24;

    IRouterGrain Router => fixture.Client.GetGrain<IRouterGrain>(ClusterFixture.ModelName);

    static GenerateRequest Request(params string[] stops) => new()
    {
        Prompt = Prompt, RequestId = "stop-" + Guid.NewGuid().ToString("N")[..8],
        Sampling = SamplingParameters.Greedy(MaxTokens) with { StopTokenIds = [] },
        StopStrings = stops.Length == 0 ? null : stops,
    };

    static async Task<List<TokenChunk>> Collect(IAsyncEnumerable<TokenChunk> stream)
    {
        var chunks = new List<TokenChunk>();
        await foreach (TokenChunk chunk in stream) chunks.Add(chunk);
        return chunks;
    }

    long Requests(string route, string status, string errorType) =>
        fixture.Cluster.Silos[0].ServiceProvider.GetRequiredService<RankTelemetry>().Collector
            .Counter(MoeMetrics.RequestsTotal, route, status, errorType).Value;

    /// <summary>
    /// The uninterrupted answer without stop strings, a stop string spanning the boundary of two of its tokens, the index
    /// of the token at which that stop first completes, and the text before it.
    /// </summary>
    async Task<(List<TokenChunk> Plain, string Stop, int StopToken, string Before)> StopAcrossABoundary()
    {
        List<TokenChunk> plain = await Collect(Router.StreamAsync(Request()));
        Assert.Equal(MaxTokens, plain.Count);
        int m = Enumerable.Range(4, MaxTokens - 5).First(i => plain[i - 1].Text.Length > 0 && plain[i].Text.Length > 0);
        string stop = plain[m - 1].Text[^1..] + plain[m].Text[..1];
        string text = "";
        for (int i = 0; i < plain.Count; i++)
        {
            text += plain[i].Text;
            int at = text.IndexOf(stop, StringComparison.Ordinal);
            if (at >= 0) return (plain, stop, i, text[..at]);
        }
        throw new InvalidOperationException("the stop string was taken from the text, so it occurs in it");
    }

    [Fact]
    public async Task AStopStringEndsTheStreamAsASuccessWithFinishReasonStopAndIsNeverSent()
    {
        (List<TokenChunk> plain, string stop, int stopToken, string before) = await StopAcrossABoundary();
        long succeeded = Requests("stream", "success", "none"), cancelled = Requests("stream", "error", "cancelled");

        List<TokenChunk> chunks = await Collect(Router.StreamAsync(Request(stop, "\u0007never")));

        Assert.Equal(plain.Take(stopToken + 1).Select(c => c.TokenId), chunks.Select(c => c.TokenId));
        Assert.Equal(before, string.Concat(chunks.Select(c => c.Text)));
        Assert.All(chunks, c => Assert.DoesNotContain(stop, c.Text));
        Assert.Equal("stop", chunks[^1].FinishReason);
        Assert.All(chunks.SkipLast(1), c => Assert.Null(c.FinishReason));
        Assert.DoesNotContain(chunks, c => c.IsTrailer);
        Assert.Equal(succeeded + 1, Requests("stream", "success", "none"));
        Assert.Equal(cancelled, Requests("stream", "error", "cancelled"));
    }

    [Fact]
    public async Task AGenerateWithAStopStringAnswersTheTextBeforeItAsAStop()
    {
        (List<TokenChunk> plain, string stop, int stopToken, string before) = await StopAcrossABoundary();
        long succeeded = Requests("generate", "success", "none");
        GenerateResponse response = await Router.GenerateAsync(Request(stop));
        Assert.Equal(before, response.Text);
        Assert.Equal("stop", response.FinishReason);
        Assert.Equal(plain.Take(stopToken + 1).Select(c => c.TokenId), response.TokenIds);
        Assert.Equal(succeeded + 1, Requests("generate", "success", "none"));
    }

    [Fact]
    public async Task TextHeldBackIsReleasedOnTheLastTokenWhenMaxTokensEndsTheRequest()
    {
        List<TokenChunk> plain = await Collect(Router.StreamAsync(Request()));
        string text = string.Concat(plain.Select(c => c.Text));
        // Begins with the text's last character, so that character is held back until the request is known to end.
        List<TokenChunk> chunks = await Collect(Router.StreamAsync(Request(text[^1..] + "\u0007")));
        Assert.Equal(text, string.Concat(chunks.Select(c => c.Text)));
        Assert.Equal(plain.Select(c => c.TokenId), chunks.Select(c => c.TokenId));
        Assert.Equal("length", chunks[^1].FinishReason);
    }

    [Fact]
    public async Task AnEndOfSequenceEndSendsTheHeldTextInATrailerWithoutAToken()
    {
        List<TokenChunk> plain = await Collect(Router.StreamAsync(Request()));
        // An "end-of-sequence" token for this test: the first token that does not occur before it, after some text.
        int j = Enumerable.Range(1, MaxTokens - 1).First(i => plain.Take(i).All(c => c.TokenId != plain[i].TokenId) && plain.Take(i).Any(c => c.Text.Length > 0));
        string before = string.Concat(plain.Take(j).Select(c => c.Text));
        GenerateRequest request = Request(before[^1..] + "\u0007");
        request = request with { Sampling = request.Sampling with { StopTokenIds = [plain[j].TokenId] } };

        List<TokenChunk> chunks = await Collect(Router.StreamAsync(request));

        Assert.Equal(j + 1, chunks.Count);
        TokenChunk trailer = chunks[^1];
        Assert.True(trailer.IsTrailer);
        Assert.False(trailer.HasToken);
        Assert.Equal((-1, -1, "stop", before[^1..]), (trailer.TokenId, trailer.Index, trailer.FinishReason, trailer.Text));
        Assert.Equal(before, string.Concat(chunks.Select(c => c.Text)));
        Assert.Equal(plain.Take(j).Select(c => c.TokenId), chunks.Where(c => c.HasToken).Select(c => c.TokenId));

        // The resuming client hands the trailer on and does not take it for a token.
        List<TokenChunk> resumed = await Collect(fixture.Client.StreamWithResumeAsync(ClusterFixture.ModelName, request));
        Assert.Equal(chunks.Select(c => (c.TokenId, c.Text, c.IsTrailer)), resumed.Select(c => (c.TokenId, c.Text, c.IsTrailer)));
    }

    /// <summary>
    /// The first attempt is cut off after some tokens (one; every token before the one that completes the stop, so the
    /// stop's first character is held back at the seam; two fewer) and resumed on the router.
    /// </summary>
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    public async Task AResumeAcrossTheSeamNeitherMissesNorRetriggersTheStop(int seamCase)
    {
        (List<TokenChunk> plain, string stop, int stopToken, string before) = await StopAcrossABoundary();
        int delivered = seamCase switch { 0 => 1, 1 => stopToken, _ => Math.Max(0, stopToken - 2) };
        int attempts = 0;
        async IAsyncEnumerable<TokenChunk> CutOnce(GenerateRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
        {
            bool cut = attempts++ == 0;
            int seen = 0;
            await foreach (TokenChunk chunk in Router.StreamAsync(request, cancellationToken))
            {
                if (cut && chunk.HasToken && seen++ == delivered) throw new Orleans.Runtime.SiloUnavailableException("cut off by the test");
                yield return chunk;
            }
        }
        var options = new ResumeOptions
        {
            HeartbeatInterval = TimeSpan.FromMilliseconds(100), StallTimeout = TimeSpan.FromMinutes(2),
            InitialBackoff = TimeSpan.Zero, MaxBackoff = TimeSpan.FromMilliseconds(10),
        };
        List<TokenChunk> chunks = await Collect(MoeGenerationClient.StreamWithResumeAsync(CutOnce, Request(stop), options));

        Assert.Equal(2, attempts);
        Assert.Equal(plain.Take(stopToken + 1).Select(c => c.TokenId), chunks.Select(c => c.TokenId));
        Assert.Equal(before, string.Concat(chunks.Select(c => c.Text)));
        Assert.Equal("stop", chunks[^1].FinishReason);
    }

    [Fact]
    public async Task AResumeWhoseTokensAlreadyReachAStopOrLieOutsideTheVocabularyIsRefusedByName()
    {
        (List<TokenChunk> plain, string stop, int stopToken, _) = await StopAcrossABoundary();
        GenerateRequest request = Request(stop) with
        {
            ResumeTokenIds = plain.Take(stopToken + 1).Select(c => c.TokenId).ToArray(), ResumeReason = ResumeReasons.RankLost,
        };
        var error = await Assert.ThrowsAsync<MoeRequestException>(() => Collect(Router.StreamAsync(request)));
        Assert.Equal(MoeErrorCode.InvalidRequest, error.Code);
        Assert.Contains("already reach one of the stop strings", error.Message);

        var outside = await Assert.ThrowsAsync<MoeRequestException>(() => Collect(Router.StreamAsync(request with { ResumeTokenIds = [plain[0].TokenId, -3] })));
        Assert.Equal(MoeErrorCode.InvalidRequest, outside.Code);
        Assert.Contains("resume token at position 1 lies outside the vocabulary", outside.Message);
    }

    [Fact]
    public async Task AChunkThatSaysWhyGenerationEndedIsTheLastEvenWhenTheRankIsLostAfterIt()
    {
        int attempts = 0;
        async IAsyncEnumerable<TokenChunk> EndThenFail(GenerateRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
        {
            attempts++;
            await Task.Yield();
            yield return new TokenChunk { TokenId = 5, Index = 0, Text = "a" };
            yield return new TokenChunk { TokenId = 6, Index = 1, Text = "b", FinishReason = "stop" };
            throw new Orleans.Runtime.SiloUnavailableException("lost after the last token");
        }
        List<TokenChunk> chunks = await Collect(MoeGenerationClient.StreamWithResumeAsync(EndThenFail, Request("x"),
            ResumeOptions.Default with { InitialBackoff = TimeSpan.Zero }));
        Assert.Equal(1, attempts);
        Assert.Equal([5, 6], chunks.Select(c => c.TokenId));
    }

    [Theory]
    [InlineData(17, 4, "17 stop strings; this rank accepts at most 16")]
    [InlineData(1, 300, "stop string 0 has 300 characters; this rank accepts at most 256")]
    [InlineData(1, 0, "stop string 0 is empty")]
    public async Task StopStringsBeyondTheLimitsAreRefusedByName(int count, int length, string message)
    {
        GenerateRequest request = Request(Enumerable.Range(0, count).Select(i => new string((char)('a' + i % 26), length)).ToArray());
        var error = await Assert.ThrowsAsync<MoeRequestException>(() => Collect(Router.StreamAsync(request)));
        Assert.Equal(MoeErrorCode.InvalidRequest, error.Code);
        Assert.Contains(message, error.Message);
    }

    [Fact]
    public async Task APromptGivenAsTokenIdsIsServedAsItsTextWouldBe()
    {
        int[] ids = [.. fixture.Tokenizer.Encode(Prompt)];
        GenerateResponse byText = await Router.GenerateAsync(Request());
        GenerateResponse byIds = await Router.GenerateAsync(Request() with { Prompt = "", PromptTokenIds = ids, IncludePromptTokenIds = true });
        Assert.Equal(byText.TokenIds, byIds.TokenIds);
        Assert.Equal(ids.Length, byIds.PromptTokens);
        Assert.Equal(ids, byIds.PromptTokenIds);

        var both = await Assert.ThrowsAsync<MoeRequestException>(() => Router.GenerateAsync(Request() with { PromptTokenIds = ids }));
        Assert.Contains("both prompt and prompt_token_ids", both.Message);
        var outside = await Assert.ThrowsAsync<MoeRequestException>(() => Router.GenerateAsync(Request() with { Prompt = "", PromptTokenIds = [1, int.MaxValue] }));
        Assert.Equal(MoeErrorCode.InvalidRequest, outside.Code);
        Assert.Contains("position 1 lies outside the vocabulary", outside.Message);
    }
}
