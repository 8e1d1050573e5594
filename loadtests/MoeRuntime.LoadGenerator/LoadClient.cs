using System.Diagnostics;
using MoeRuntime.Grains;

namespace MoeRuntime.LoadGenerator;

/// <summary>
/// One simulated client: streams requests one after another and records what it sees, each request into
/// the recorder current when it ends (a timeline swaps recorders every sample).
/// </summary>
sealed class LoadClient(IServedTarget target, IReadOnlyList<string> prompts, LoadOptions options, Func<LoadRecorder> recorder)
{
    /// <summary>When this client's previous request ended (its stream finished), for the gap to the next send.</summary>
    long? _previousEnd;

    /// <summary>Runs requests while <paramref name="nextRequest"/> hands out indices (it returns null when the level is over).</summary>
    public async Task RunAsync(Func<int?> nextRequest, CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested && nextRequest() is { } index)
            await StreamOneAsync(index, cancellationToken);
    }

    async Task StreamOneAsync(int index, CancellationToken cancellationToken)
    {
        var request = new GenerateRequest { Prompt = PromptSet.For(prompts, index), Sampling = RequestSampling.For(options, index) };
        var interToken = new List<double>(options.MaxTokens);
        double? firstToken = null;
        long sent = Stopwatch.GetTimestamp();
        long last = sent, firstAt = sent;
        int tokens = 0;
        string? error = null;
        try
        {
            await foreach (Streamed item in target.StreamAsync(request, () => recorder().RecordResume(), cancellationToken))
            {
                tokens += item.Tokens;
                recorder().Streamed(item.Tokens);
                if (!item.Timed) continue;
                long now = Stopwatch.GetTimestamp();
                double elapsedMs = Stopwatch.GetElapsedTime(last, now).TotalMilliseconds;
                if (firstToken is null)
                {
                    firstToken = elapsedMs;
                    firstAt = now;
                }
                else interToken.Add(elapsedMs);
                last = now;
            }
        }
        catch (MoeRequestException e)
        {
            error = e.Code.ToString();
        }
        catch (HttpLoadException e)
        {
            error = e.Code;
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // Transport and cluster failures have no MoeErrorCode; they are counted by type, and shown whole once each.
            error = e.GetType().Name;
            if (recorder().FirstOf(error)) Console.Error.WriteLine($"request {index}: {e}");
        }
        long ended = Stopwatch.GetTimestamp();
        double? gap = _previousEnd is { } previous ? Stopwatch.GetElapsedTime(previous, sent).TotalMilliseconds : null;
        _previousEnd = ended;
        RequestTimes? times = error is null && firstToken is { } ttft
            ? new RequestTimes(ttft, Stopwatch.GetElapsedTime(firstAt, last).TotalMilliseconds, Stopwatch.GetElapsedTime(last, ended).TotalMilliseconds, gap, tokens)
            : null;
        recorder().Record(firstToken, interToken.ToArray(), tokens, error, times);
    }
}
