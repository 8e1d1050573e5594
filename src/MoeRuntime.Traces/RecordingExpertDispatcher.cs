using MoeRuntime.Model.Configuration;
using MoeRuntime.Model.Layers;
using static TorchSharp.torch;

namespace MoeRuntime.Traces;

/// <summary>
/// A dispatcher that records each layer's routing plan (chosen experts and weights, with the rows'
/// request pseudonyms and positions; never token ids) and then hands the call to the real dispatcher.
/// Install it only when a trace is wanted: without it, recording costs nothing.
/// </summary>
public sealed class RecordingExpertDispatcher(IExpertDispatcher inner, RoutingTraceRecorder recorder) : IExpertDispatcher
{
    public IExpertDispatcher Inner { get; } = inner;
    public RoutingTraceRecorder Recorder { get; } = recorder;

    public Task DispatchAsync(int layer, RoutingPlan plan, Tensor moeInput, Tensor output, DispatchRows rows, CancellationToken cancellationToken)
    {
        Recorder.Record(layer, plan.TopK, plan.ChosenExperts, plan.ChosenWeights, rows.Requests, rows.Positions);
        return Inner.DispatchAsync(layer, plan, moeInput, output, rows, cancellationToken);
    }

    /// <summary>A trace header for <paramref name="config"/>; an expert's hot bytes are its three float32 matrices.</summary>
    public static RoutingTraceHeader HeaderFor(ModelConfig config, string modelName) => new()
    {
        Model = modelName,
        Layers = config.LayerCount,
        Experts = config.ExpertCount,
        TopK = config.ExpertsPerToken,
        ExpertBytes = 3L * config.HiddenSize * config.ExpertIntermediateSize * sizeof(float),
    };
}
