using System.Diagnostics;
using MoeRuntime.Model.Sampling;

namespace MoeRuntime.Model.Generation;

/// <summary>What a warm-up served: its requests, the tokens they generated, how long it took.</summary>
public readonly record struct WarmupResult(int Requests, long Tokens, TimeSpan Elapsed);

/// <summary>
/// Unmeasured requests through the batcher before a rank takes traffic, so the serving path runs as compiled code rather
/// than the JIT's first, unoptimised tier (which the runtime recompiles in the background over its first minute of
/// traffic, beside the first real requests) and libtorch's first-use costs are paid. The requests go in waves of a
/// batch: prefills of several sequences, then decodes from the full batch down to one, the shapes real traffic makes.
/// </summary>
public static class BatcherWarmup
{
    /// <summary>Tokens each warm-up request generates.</summary>
    public const int TokensPerRequest = 32;

    /// <summary>
    /// Runs <paramref name="requests"/> greedy requests over <paramref name="prompts"/> (taken in turn), at most
    /// <paramref name="batch"/> at a time, and waits for all of them.
    /// </summary>
    /// <exception cref="ArgumentException">No prompts, an empty prompt, or a count below 1.</exception>
    public static async Task<WarmupResult> RunAsync(ContinuousBatcher batcher, IReadOnlyList<int[]> prompts, int requests, int batch,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(batcher);
        ArgumentNullException.ThrowIfNull(prompts);
        if (prompts.Count == 0 || prompts.Any(p => p.Length == 0)) throw new ArgumentException("warm-up needs non-empty prompts", nameof(prompts));
        ArgumentOutOfRangeException.ThrowIfLessThan(requests, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(batch, 1);
        long started = Stopwatch.GetTimestamp();
        long tokens = 0;
        var sampling = SamplingOptions.Greedy with { MaxTokens = TokensPerRequest, StopTokenIds = [] };
        for (int first = 0; first < requests; first += batch)
        {
            int wave = Math.Min(batch, requests - first);
            var streams = new GenerationStream[wave];
            for (int i = 0; i < wave; i++)
                streams[i] = batcher.Submit(new GenerationRequest(prompts[(first + i) % prompts.Count], sampling), cancellationToken: cancellationToken);
            foreach (GenerationStream stream in streams)
                tokens += (await stream.Completion.WaitAsync(cancellationToken).ConfigureAwait(false)).Tokens.Count;
        }
        return new WarmupResult(requests, tokens, Stopwatch.GetElapsedTime(started));
    }
}
