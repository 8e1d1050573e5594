using System.Diagnostics;
using MoeRuntime.Model;
using MoeRuntime.Model.Generation;
using MoeRuntime.Model.Loading;
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

    /// <summary>One unmeasured request, so JIT and libtorch's first-use costs stay out of the first level.</summary>
    public void WarmUp() => Run(1, 1);

    public ReferenceLevel Run(int concurrency, int requests)
    {
        var batch = Enumerable.Range(0, requests)
            .Select(i => new GenerationRequest(_tokenizer.Encode(PromptSet.For(prompts, i)), RequestSampling.ReferenceFor(options, i)))
            .ToArray();
        var clock = Stopwatch.StartNew();
        IReadOnlyList<GenerationResult> results = new ReferenceGenerator(_model).Run(batch, concurrency);
        return new ReferenceLevel(concurrency, clock.Elapsed.TotalSeconds, requests, results.Sum(r => (long)r.Tokens.Count));
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
