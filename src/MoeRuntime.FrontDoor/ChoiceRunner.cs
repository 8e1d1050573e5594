using System.Runtime.CompilerServices;

namespace MoeRuntime.FrontDoor;

/// <summary>One token's logprob entry as the client sees it.</summary>
public sealed record LogprobEntry(string Token, float Logprob, IReadOnlyList<TokenAlternative> TopLogprobs);

/// <summary>Text (and the logprobs of the tokens that made it) ready to go to the client for one choice.</summary>
public readonly record struct ChoiceDelta(int Index, string Text, IReadOnlyList<LogprobEntry>? Logprobs);

/// <summary>How one choice ended.</summary>
public sealed record ChoiceResult(int Index, string Text, string FinishReason, int CompletionTokens, IReadOnlyList<LogprobEntry>? Logprobs);

/// <summary>
/// Runs one choice against the backend: passes the stop strings to a backend that matches them (the router ends the
/// sequence there as a success) or else applies them to the decoded text itself, collects logprobs, decides the finish
/// reason, and hands each piece of visible text to <c>onDelta</c> as soon as it is known.
/// </summary>
static class ChoiceRunner
{
    public static async Task<ChoiceResult> RunAsync(IInferenceBackend backend, GenerationCall call, int index, IReadOnlyList<string> stops,
        Func<ChoiceDelta, ValueTask>? onDelta, bool collect, CancellationToken cancellationToken)
    {
        // A backend that matches stop strings sends text without them; the front door's matcher then only completes characters.
        var matcher = new StopMatcher(backend.MatchesStopStrings ? [] : stops);
        var text = collect ? new System.Text.StringBuilder() : null;
        List<LogprobEntry>? all = collect && call.Logprobs ? [] : null;
        List<LogprobEntry>? pending = call.Logprobs ? [] : null;
        int count = 0;
        string? finish = null;
        // Stopping early (a stop string the backend does not match) ends the backend's generation through this token.
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        await using (ConfiguredCancelableAsyncEnumerable<GeneratedToken>.Enumerator tokens =
            backend.GenerateAsync(call, stop.Token).WithCancellation(stop.Token).ConfigureAwait(false).GetAsyncEnumerator())
        {
            while (await tokens.MoveNextAsync())
            {
                GeneratedToken token = tokens.Current;
                finish = token.FinishReason ?? finish;
                if (!token.IsTrailer) count++;
                if (pending is not null && !token.IsTrailer)
                {
                    if (token.Logprob is not float lp)
                        throw new BackendException(BackendErrorKind.Failed, "the backend returned a token without the logprob that was asked for");
                    pending.Add(new LogprobEntry(token.Text, lp, token.TopLogprobs ?? []));
                }
                string visible = matcher.Append(token.Text);
                await Emit(visible);
                if (matcher.Stopped) break;
            }
            if (matcher.Stopped) await stop.CancelAsync();
        }
        await Emit(matcher.Flush(), force: pending is { Count: > 0 });
        string reason = matcher.Stopped ? "stop" : finish ?? (count >= call.MaxTokens ? "length" : "stop");
        return new ChoiceResult(index, text?.ToString() ?? "", reason, count, all);

        async ValueTask Emit(string visible, bool force = false)
        {
            if (visible.Length == 0 && !force) return;
            text?.Append(visible);
            IReadOnlyList<LogprobEntry>? logprobs = null;
            if (pending is { Count: > 0 })
            {
                logprobs = pending.ToArray();
                all?.AddRange(pending);
                pending.Clear();
            }
            if (onDelta is not null && (visible.Length > 0 || logprobs is not null)) await onDelta(new ChoiceDelta(index, visible, logprobs));
        }
    }
}
