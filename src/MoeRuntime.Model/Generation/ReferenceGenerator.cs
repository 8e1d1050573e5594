using MoeRuntime.Model.Layers;
using static TorchSharp.torch;

namespace MoeRuntime.Model.Generation;

/// <summary>
/// Single-process generation over <see cref="MoeModel"/>: the ground truth the distributed runtime
/// must reproduce. <see cref="Run"/> batches continuously: sequences join as others finish, and
/// prefills and decodes share each forward pass.
/// </summary>
public sealed class ReferenceGenerator(MoeModel model)
{
    public MoeModel Model { get; } = model;

    /// <summary>Streams one request's tokens as they are sampled.</summary>
    public IEnumerable<int> Stream(GenerationRequest request, CancellationToken cancellationToken = default)
    {
        using var sequence = new SequenceState(Model, request);
        while (sequence.Finished is null)
        {
            cancellationToken.ThrowIfCancellationRequested();
            int? token = Step([sequence])[0];
            if (token is { } t) yield return t;
        }
    }

    /// <summary>As <see cref="Stream"/>, with each token's position, logits and log-probabilities as the request asked for them.</summary>
    public IEnumerable<StreamedToken> StreamTokens(GenerationRequest request, CancellationToken cancellationToken = default)
    {
        using var sequence = new SequenceState(Model, request);
        while (sequence.Finished is null)
        {
            cancellationToken.ThrowIfCancellationRequested();
            int? token = Step([sequence])[0];
            if (token is { } t)
                yield return new StreamedToken(t, sequence.Generated.Count - 1,
                    request.CaptureLogits ? sequence.Result().Logits![^1] : null, sequence.LastLogprobs, sequence.LastText, sequence.Finished);
        }
    }

    /// <summary>Runs every request to completion with at most <paramref name="maxBatch"/> sequences per step.</summary>
    public IReadOnlyList<GenerationResult> Run(IReadOnlyList<GenerationRequest> requests, int maxBatch = 32, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBatch, 1);
        var results = new GenerationResult[requests.Count];
        var active = new List<(int Index, SequenceState State)>();
        int next = 0;
        try
        {
            while (next < requests.Count || active.Count > 0)
            {
                cancellationToken.ThrowIfCancellationRequested();
                while (active.Count < maxBatch && next < requests.Count)
                {
                    active.Add((next, new SequenceState(Model, requests[next])));
                    next++;
                }
                Step(active.Select(a => a.State).ToArray());
                for (int i = active.Count - 1; i >= 0; i--)
                {
                    if (active[i].State.Finished is null) continue;
                    results[active[i].Index] = active[i].State.Result();
                    active[i].State.Dispose();
                    active.RemoveAt(i);
                }
            }
        }
        finally
        {
            foreach (var (_, state) in active) state.Dispose();
        }
        return results;
    }

    /// <summary>One forward pass for every sequence, then one sampled token each (null for a stop token).</summary>
    public int?[] Step(IReadOnlyList<SequenceState> sequences)
    {
        using var scope = NewDisposeScope();
        var steps = new SequenceStep[sequences.Count];
        for (int i = 0; i < steps.Length; i++) steps[i] = sequences[i].NextStep();
        Tensor logits = Model.Forward(steps).cpu().contiguous();
        ReadOnlySpan<float> all = TensorSpans.Floats(logits);
        int vocabulary = Model.Config.VocabularySize;
        var tokens = new int?[sequences.Count];
        for (int i = 0; i < sequences.Count; i++)
            tokens[i] = sequences[i].Accept(all.Slice(i * vocabulary, vocabulary));
        return tokens;
    }
}
