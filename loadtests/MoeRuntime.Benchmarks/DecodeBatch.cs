using MoeRuntime.Model;
using MoeRuntime.Model.Layers;

namespace MoeRuntime.Benchmarks;

/// <summary>
/// Sequences with their prompts already prefilled; each <see cref="Step"/> feeds every sequence its
/// next token of the sample text, so routing follows real text rather than one repeated token.
/// </summary>
sealed class DecodeBatch : IDisposable
{
    readonly MoeModel _model;
    readonly KvCache[] _caches;
    readonly int[][] _next;
    readonly int[] _offsets;
    readonly IReadOnlyList<int> _text;
    int _steps;

    public DecodeBatch(MoeModel model, IReadOnlyList<int> text, int sequences, int promptLength)
    {
        _model = model;
        _text = text;
        _caches = new KvCache[sequences];
        _next = new int[sequences][];
        _offsets = new int[sequences];
        for (int i = 0; i < sequences; i++)
        {
            // Different offsets give each sequence different tokens and so different experts.
            _offsets[i] = i * 37 + promptLength;
            _caches[i] = model.CreateCache();
            _next[i] = new int[1];
            int[] prompt = Enumerable.Range(i * 37, promptLength).Select(p => text[p % text.Count]).ToArray();
            model.Forward([new SequenceStep(_caches[i], prompt)]).Dispose();
        }
    }

    /// <summary>Cached positions of the first sequence (all sequences advance together).</summary>
    public int ContextLength => _caches[0].Length;

    public void Step()
    {
        var steps = new SequenceStep[_caches.Length];
        for (int i = 0; i < steps.Length; i++)
        {
            _next[i][0] = _text[(_offsets[i] + _steps) % _text.Count];
            steps[i] = new SequenceStep(_caches[i], _next[i]);
        }
        _model.Forward(steps).Dispose();
        _steps++;
    }

    public void Dispose()
    {
        foreach (KvCache cache in _caches) cache.Dispose();
    }
}
