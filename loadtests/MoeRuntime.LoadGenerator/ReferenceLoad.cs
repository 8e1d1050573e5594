using System.Diagnostics;
using MoeRuntime.Model;
using MoeRuntime.Model.Generation;
using MoeRuntime.Model.Loading;
using MoeRuntime.Model.Threading;
using MoeRuntime.Model.Tokenization;
using static TorchSharp.torch;

namespace MoeRuntime.LoadGenerator;

/// <summary>
/// The single-process reference generator with the whole model in memory, batching the same requests at
/// the same concurrency: the throughput serving is measured against.
/// </summary>
sealed class ReferenceLoad(string modelDirectory, IReadOnlyList<string> prompts, LoadOptions options) : IDisposable
{
    readonly MoeModel _model = ModelLoader.Load(modelDirectory, CPU);
    readonly ITextTokenizer _tokenizer = TokenizerLoader.Load(modelDirectory);

    /// <summary>
    /// Unmeasured requests one at a time, as many as the served side's warm-up (<see cref="LoadOptions.Warmup"/>, at least
    /// one), so JIT and libtorch's first-use costs stay out of the first level on both sides alike.
    /// </summary>
    public void WarmUp() => Run(1, Math.Max(1, options.Warmup));

    public ReferenceLevel Run(int concurrency, int requests)
    {
        var batch = Enumerable.Range(0, requests)
            .Select(i => new GenerationRequest(_tokenizer.Encode(PromptSet.For(prompts, i)), RequestSampling.ReferenceFor(options, i)))
            .ToArray();
        var generator = new ReferenceGenerator(_model);
        var timeline = new ReferenceTimeline(requests);
        // The loop runs on this thread to the end (the reference's experts are in-process), so pinning it pins the loop.
        using var pinned = CpuList.PinnedWhile(options.ReferenceCpus);
        long tokens = 0, steps = 0, stepTicks = 0;
        var active = new List<(int Index, SequenceState State)>();
        int next = 0;
        // ReferenceGenerator.Run's continuous batching, step by step, with each step's end noted for the requests it served
        // a token: the same work (the same Step) and a few timestamps per step, so tokens/s is what Run would give.
        long started = Stopwatch.GetTimestamp();
        try
        {
            while (next < requests || active.Count > 0)
            {
                long now = Stopwatch.GetTimestamp();
                while (active.Count < concurrency && next < requests)
                {
                    timeline.Admitted(next, now);
                    active.Add((next, new SequenceState(_model, batch[next])));
                    next++;
                }
                var states = new SequenceState[active.Count];
                for (int i = 0; i < states.Length; i++) states[i] = active[i].State;
                long stepStart = Stopwatch.GetTimestamp();
                int?[] emitted = generator.Step(states);
                long stepEnd = Stopwatch.GetTimestamp();
                stepTicks += stepEnd - stepStart;
                steps++;
                for (int i = active.Count - 1; i >= 0; i--)
                {
                    if (emitted[i] is not null) timeline.Token(active[i].Index, stepEnd);
                    if (active[i].State.Finished is null) continue;
                    tokens += active[i].State.Generated.Count;
                    timeline.Ended(active[i].Index, stepEnd);
                    active[i].State.Dispose();
                    active.RemoveAt(i);
                }
            }
        }
        finally
        {
            foreach (var (_, state) in active) state.Dispose();
        }
        return new ReferenceLevel(concurrency, Stopwatch.GetElapsedTime(started).TotalSeconds, requests, tokens, timeline.Summary(),
            (double)stepTicks / Stopwatch.Frequency, steps);
    }

    /// <summary>The same requests again, with the step split into phases (<see cref="ReferencePhases"/>).</summary>
    public ReferencePhaseTotals RunPhases(int concurrency, int requests)
    {
        var batch = Enumerable.Range(0, requests)
            .Select(i => new GenerationRequest(_tokenizer.Encode(PromptSet.For(prompts, i)), RequestSampling.ReferenceFor(options, i)))
            .ToArray();
        return new ReferencePhases(_model).Run(batch, concurrency);
    }

    public void Dispose() => _model.Dispose();
}
