using Microsoft.Extensions.Logging.Abstractions;
using MoeRuntime.Model.Layers;
using MoeRuntime.Model.Loading;
using MoeRuntime.Serving.Tiers;
using static TorchSharp.torch;

namespace MoeRuntime.Serving.Tests.Tiers;

/// <summary>Helpers shared by the tier store tests.</summary>
static class StoreTesting
{
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    /// <summary>A store whose budgets are whole numbers of this checkpoint's experts.</summary>
    public static ExpertTierStore Store(ExpertCheckpoint checkpoint, int hotExperts, int warmExperts, TimeProvider? time = null)
    {
        ExpertTensors any = checkpoint.Locate(new ExpertKey(checkpoint.Model, 0, 0));
        return new ExpertTierStore(
            checkpoint, new TierBudgets(hotExperts * any.HotBytes, warmExperts * any.WarmBytes), CPU, NullLogger<ExpertTierStore>.Instance, time);
    }

    public static TierSet TierSet(string model, long version, TierBudgets budgets, params (ExpertKey Key, Tier Tier)[] assignment) =>
        new(model, Rank: 0, version, assignment.ToDictionary(a => a.Key, a => a.Tier), budgets,
            new TierSetChange("tests", DateTimeOffset.UnixEpoch, $"version {version}"));

    /// <summary>Deterministic tokens [n, hidden].</summary>
    public static Tensor Tokens(int hidden, int n = 5, int seed = 7)
    {
        var random = new Random(seed);
        var data = new float[n * hidden];
        for (int k = 0; k < data.Length; k++) data[k] = (float)(random.NextDouble() * 2 - 1);
        return tensor(data, [n, hidden]);
    }

    public static float[] Outputs(ExpertFfn expert, Tensor tokens)
    {
        using Tensor output = expert.Forward(tokens);
        return output.data<float>().ToArray();
    }

    /// <summary>What the model loader builds for the expert, run on <paramref name="tokens"/>.</summary>
    public static float[] ReferenceOutputs(ExpertCheckpoint checkpoint, ExpertKey key, Tensor tokens)
    {
        using ExpertFfn expert = MoeModelAssembler.LoadExpert(checkpoint.Config, checkpoint.Tensors, key.Layer, key.Expert, CPU);
        return Outputs(expert, tokens);
    }

    /// <summary>Advances by one step each time it is read, so every measured wait is exactly one step.</summary>
    public sealed class SteppingTime(TimeSpan step) : TimeProvider
    {
        long _now;
        public override long TimestampFrequency => TimeSpan.TicksPerSecond;
        public override long GetTimestamp() => Interlocked.Add(ref _now, step.Ticks);
    }
}
