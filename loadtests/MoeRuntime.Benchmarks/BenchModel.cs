using MoeRuntime.Model;
using MoeRuntime.Model.Configuration;
using MoeRuntime.Model.DefaultModel;
using MoeRuntime.Model.Layers;
using MoeRuntime.Model.Loading;
using static TorchSharp.torch;

namespace MoeRuntime.Benchmarks;

/// <summary>The default model's weights and the model assembled from them on the CPU.</summary>
sealed class BenchModel : IDisposable
{
    readonly InMemoryTensorSource _source;

    public BenchModel()
    {
        var recipe = new DefaultModelRecipe();
        Config = recipe.Config;
        _source = DefaultModelWeights.Generate(recipe);
        Model = MoeModelAssembler.Assemble(Config, _source, CPU);
    }

    public ModelConfig Config { get; }
    public MoeModel Model { get; }

    /// <summary>Expert 0 of layer 0 as the product builds it.</summary>
    public ExpertFfn LoadExpert() => MoeModelAssembler.LoadExpert(Config, _source, 0, 0, CPU);

    /// <summary>The same expert's weights as the naive baseline holds them (float32 copies).</summary>
    public NaiveExpertFfn LoadNaiveExpert()
    {
        using var scope = NewDisposeScope();
        var (w1, w2, w3) = new CheckpointTensorNames(Config.Architecture).Expert(0, 0);
        long h = Config.HiddenSize, inter = Config.ExpertIntermediateSize;
        return new NaiveExpertFfn(_source.Read(w1, [inter, h]), _source.Read(w2, [h, inter]), _source.Read(w3, [inter, h]));
    }

    public void Dispose()
    {
        Model.Dispose();
        _source.Dispose();
    }
}
