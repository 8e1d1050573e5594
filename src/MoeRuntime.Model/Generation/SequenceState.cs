using MoeRuntime.Model.Layers;
using MoeRuntime.Model.Sampling;

namespace MoeRuntime.Model.Generation;

/// <summary>One request inside a decoding batch: its cache, sampler, output so far and stop rule.</summary>
public sealed class SequenceState : IDisposable
{
    readonly int[] _stopTokens;
    readonly int[] _pending = new int[1];
    readonly List<int> _generated = [];
    readonly List<float[]>? _logits;

    public SequenceState(MoeModel model, GenerationRequest request)
    {
        if (request.PromptTokens.Count == 0) throw new ArgumentException("the prompt is empty", nameof(request));
        if (request.PromptTokens.Count >= model.Config.MaxSequenceLength)
            throw new ArgumentException($"the prompt has {request.PromptTokens.Count} tokens; the model allows fewer than {model.Config.MaxSequenceLength}", nameof(request));
        Request = request;
        Sampler = new TokenSampler(request.Options, model.Config.VocabularySize);
        _stopTokens = (request.Options.StopTokenIds ?? model.Config.EndOfSequenceTokenIds).ToArray();
        _logits = request.CaptureLogits ? [] : null;
        Cache = model.CreateCache(PositionsNeeded(model.Config, request));
        _maxPositions = model.Config.MaxSequenceLength;
    }

    readonly int _maxPositions;

    /// <summary>
    /// The most positions <paramref name="request"/>'s cache will hold: its prompt plus its max tokens (the last sampled
    /// token is never fed back), within the model's maximum.
    /// </summary>
    public static int PositionsNeeded(Configuration.ModelConfig config, GenerationRequest request) =>
        (int)Math.Min((long)request.PromptTokens.Count + request.Options.MaxTokens, config.MaxSequenceLength);

    /// <summary>The KV-cache bytes <paramref name="request"/> can come to hold: what admission reserves for it.</summary>
    public static long KvBytesNeeded(Configuration.ModelConfig config, GenerationRequest request) =>
        KvCache.BytesFor(config, PositionsNeeded(config, request));

    public GenerationRequest Request { get; }
    public TokenSampler Sampler { get; }
    public KvCache Cache { get; }
    public IReadOnlyList<int> Generated => _generated;
    public FinishReason? Finished { get; private set; }

    /// <summary>The tokens the next forward pass feeds: the whole prompt first, then the last sampled token.</summary>
    public SequenceStep NextStep() =>
        Cache.Length == 0
            ? new SequenceStep(Cache, Request.PromptTokens as int[] ?? Request.PromptTokens.ToArray(), Request.RequestKey)
            : new SequenceStep(Cache, _pending, Request.RequestKey);

    /// <summary>The last accepted token's log-probabilities, when the request asked for them (<see cref="GenerationRequest.TopLogprobs"/>).</summary>
    public TokenLogprobs? LastLogprobs { get; private set; }

    /// <summary>The last accepted token's text, when the request decodes in the batcher (<see cref="GenerationRequest.TextStop"/>).</summary>
    public string? LastText { get; private set; }

    string _trailingText = "";

    /// <summary>
    /// Samples from this step's logits; returns the token, or null when it was a stop token. With a
    /// <see cref="GenerationRequest.TextStop"/>, a token whose text completes a stop string is returned and ends the sequence.
    /// </summary>
    public int? Accept(ReadOnlySpan<float> logits)
    {
        _logits?.Add(logits.ToArray());
        // The token's absolute position: a resumed request's prompt holds the tokens it already produced.
        int token = Sampler.Sample(logits, Request.PromptTokens.Count + _generated.Count);
        if (Request.TopLogprobs is { } top) LastLogprobs = TokenLogprobs.Compute(logits, token, top);
        if (Array.IndexOf(_stopTokens, token) >= 0)
        {
            Finished = FinishReason.Stop;
            if (Request.TextStop is { } held) _trailingText = held.Finish();
            return null;
        }
        _generated.Add(token);
        _pending[0] = token;
        if (_generated.Count >= Request.Options.MaxTokens || Cache.Length >= _maxPositions) Finished = FinishReason.Length;
        if (Request.TextStop is { } text)
        {
            TextStep step = text.Append(token, last: Finished is not null);
            LastText = step.Text;
            if (step.Stopped) Finished = FinishReason.Stop;
        }
        return token;
    }

    public GenerationResult Result() =>
        new(_generated.ToArray(), Finished ?? FinishReason.Length, Sampler.Seed, _logits) { TrailingText = _trailingText };

    public void Dispose() => Cache.Dispose();
}
