using System.Diagnostics;
using MoeRuntime.Model;
using MoeRuntime.Model.Generation;
using MoeRuntime.Model.Layers;

namespace MoeRuntime.LoadGenerator;

/// <summary>
/// The reference's continuous batching run again with its step split into the served path's phases (the model's async
/// forward with every expert in-process, <see cref="LocalExpertDispatcher"/>): per layer attention, gate and experts, per
/// step the rest of the forward (embedding, LM head) and sampling. Same requests, same batch size, one thread, no awaits
/// that yield: what one reference step costs, phase by phase, next to the silo's <c>moe_step_phase_seconds</c>.
/// </summary>
sealed class ReferencePhases(MoeModel model)
{
    public ReferencePhaseTotals Run(IReadOnlyList<GenerationRequest> requests, int maxBatch)
    {
        var dispatcher = new TimedDispatcher(new LocalExpertDispatcher(model));
        var totals = new ReferencePhaseTotals();
        var active = new List<SequenceState>();
        int next = 0;
        var clock = Stopwatch.StartNew();
        try
        {
            while (next < requests.Count || active.Count > 0)
            {
                while (active.Count < maxBatch && next < requests.Count) active.Add(new SequenceState(model, requests[next++]));
                var steps = new SequenceStep[active.Count];
                for (int i = 0; i < steps.Length; i++) steps[i] = active[i].NextStep();
                long started = Stopwatch.GetTimestamp();
                long before = dispatcher.Ticks, attention = totals.AttentionTicks, gate = totals.GateTicks;
                // LocalExpertDispatcher completes synchronously, so the forward runs on this thread to the end.
                Task<TorchSharp.torch.Tensor> forward = model.ForwardAsync(steps, dispatcher, layerTimed: (_, a, g, _) =>
                {
                    totals.AttentionTicks += a.Ticks;
                    totals.GateTicks += g.Ticks;
                });
                using TorchSharp.torch.Tensor logits = forward.GetAwaiter().GetResult();
                long forwarded = Stopwatch.GetTimestamp();
                ReadOnlySpan<float> all = TensorSpans.Floats(logits);
                int vocabulary = model.Config.VocabularySize;
                for (int i = 0; i < active.Count; i++) active[i].Accept(all.Slice(i * vocabulary, vocabulary));
                long sampled = Stopwatch.GetTimestamp();
                long forwardTicks = Stopwatch.GetElapsedTime(started, forwarded).Ticks;
                totals.OtherForwardTicks += forwardTicks - (dispatcher.Ticks - before) - (totals.AttentionTicks - attention) - (totals.GateTicks - gate);
                totals.SampleTicks += Stopwatch.GetElapsedTime(forwarded, sampled).Ticks;
                totals.Steps++;
                totals.Tokens += active.Count;
                for (int i = active.Count - 1; i >= 0; i--)
                {
                    if (active[i].Finished is null) continue;
                    active[i].Dispose();
                    active.RemoveAt(i);
                }
            }
        }
        finally
        {
            foreach (SequenceState state in active) state.Dispose();
        }
        totals.ExpertTicks = dispatcher.Ticks;
        totals.Layers = model.Config.LayerCount;
        totals.Seconds = clock.Elapsed.TotalSeconds;
        return totals;
    }

    /// <summary>Times each layer's in-process experts (gather, FFN, weighted add).</summary>
    sealed class TimedDispatcher(IExpertDispatcher inner) : IExpertDispatcher
    {
        public long Ticks;

        public Task DispatchAsync(int layer, RoutingPlan plan, TorchSharp.torch.Tensor moeInput, TorchSharp.torch.Tensor output, DispatchRows rows,
            CancellationToken cancellationToken)
        {
            long started = Stopwatch.GetTimestamp();
            Task done = inner.DispatchAsync(layer, plan, moeInput, output, rows, cancellationToken);
            Ticks += Stopwatch.GetElapsedTime(started).Ticks;
            return done;
        }
    }
}

/// <summary>Sums of a phased reference run (TimeSpan ticks).</summary>
sealed class ReferencePhaseTotals
{
    public long AttentionTicks, GateTicks, ExpertTicks, OtherForwardTicks, SampleTicks, Steps, Tokens;
    public int Layers;
    public double Seconds;

    double PerLayerMs(long ticks) => Steps == 0 ? 0 : TimeSpan.FromTicks(ticks).TotalMilliseconds / (Steps * Layers);
    double PerStepMs(long ticks) => Steps == 0 ? 0 : TimeSpan.FromTicks(ticks).TotalMilliseconds / Steps;

    public string Describe(int concurrency) =>
        $"reference phases at concurrency {concurrency}: {Steps} steps, {Tokens / Seconds:F1} tok/s, step {Seconds * 1000 / Math.Max(1, Steps):F2} ms; "
        + $"per layer ms: attention {PerLayerMs(AttentionTicks):F3}, gate {PerLayerMs(GateTicks):F3}, experts {PerLayerMs(ExpertTicks):F3}; "
        + $"per step ms: embed+head {PerStepMs(OtherForwardTicks):F3}, sample {PerStepMs(SampleTicks):F3}";
}
