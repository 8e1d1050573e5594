using MoeRuntime.Model.Generation;
using MoeRuntime.Model.Tokenization;

namespace MoeRuntime.Serving.Text;

/// <summary>
/// An incremental detokenizer that ends a sequence at a stop string: each token's bytes go through a streaming decoder,
/// and the text is searched for the stop strings across token boundaries. Text that could be the beginning of a stop
/// string is held back (a tail never longer than the longest stop string less one character, or a lone high
/// surrogate) until it is not (then it is released) or it is (then the sequence stops and the text before the stop
/// string is the last the client sees; the stop string itself never is). A token that needs nothing held and completes
/// no stop string returns the decoder's own string: no allocation beyond the decoder's. Not thread-safe: one per sequence.
/// </summary>
public sealed class StopStringDetokenizer : ITextStopCondition
{
    readonly IStreamingDecoder _decoder;
    readonly string[] _stops;
    char[] _window;
    int _held;

    /// <param name="decoder">A fresh streaming decoder of the sequence's tokenizer.</param>
    /// <param name="stops">The stop strings: at least one, none empty.</param>
    public StopStringDetokenizer(IStreamingDecoder decoder, IReadOnlyList<string> stops)
    {
        ArgumentNullException.ThrowIfNull(decoder);
        ArgumentNullException.ThrowIfNull(stops);
        if (stops.Count == 0) throw new ArgumentException("at least one stop string is needed", nameof(stops));
        for (int i = 0; i < stops.Count; i++)
            if (string.IsNullOrEmpty(stops[i])) throw new ArgumentException($"stop string {i} is empty", nameof(stops));
        _decoder = decoder;
        _stops = [.. stops];
        int longest = _stops.Max(s => s.Length);
        _window = new char[Math.Max(16, 2 * longest)];
    }

    /// <summary>True once a stop string was reached; the sequence takes no more tokens.</summary>
    public bool Stopped { get; private set; }

    /// <summary>How many characters are held back now (for tests and diagnostics).</summary>
    public int HeldCharacters => _held;

    /// <summary>
    /// Feeds tokens the client already has (a resumed request's), so that the state is what it was when they were
    /// delivered: the decoder's partial character and the held-back tail. Their text is not returned (the client has
    /// what of it was visible). Returns false when they already reach a stop string: that request had ended.
    /// </summary>
    public bool Replay(IEnumerable<int> tokenIds)
    {
        ArgumentNullException.ThrowIfNull(tokenIds);
        foreach (int id in tokenIds)
            if (Append(id, last: false).Stopped) return false;
        return true;
    }

    /// <inheritdoc/>
    public TextStep Append(int tokenId, bool last)
    {
        if (Stopped) throw new InvalidOperationException("the sequence already reached a stop string");
        string piece = _decoder.Append(tokenId);
        if (_held == 0)
        {
            // The common case: nothing held, so the token's own text is searched where it lies.
            ReadOnlySpan<char> text = piece;
            int at = FirstStop(text);
            if (at >= 0) return Stop(text[..at]);
            int hold = last ? 0 : HeldSuffix(text);
            if (hold == 0) return new TextStep(piece, false);
            Hold(text[^hold..]);
            return new TextStep(piece[..^hold], false);
        }
        if (piece.Length == 0 && !last) return new TextStep("", false);
        int length = _held + piece.Length;
        if (_window.Length < length) Array.Resize(ref _window, Math.Max(length, 2 * _window.Length));
        piece.AsSpan().CopyTo(_window.AsSpan(_held));
        ReadOnlySpan<char> joined = _window.AsSpan(0, length);
        int stopAt = FirstStop(joined);
        if (stopAt >= 0)
        {
            return Stop(joined[..stopAt]);
        }
        int keep = last ? 0 : HeldSuffix(joined);
        string visible = joined.Length - keep == 0 ? "" : new string(joined[..^keep]);
        joined[^keep..].CopyTo(_window);
        _held = keep;
        return new TextStep(visible, false);
    }

    /// <inheritdoc/>
    public string Finish()
    {
        if (Stopped || _held == 0) return "";
        string rest = new(_window, 0, _held);
        _held = 0;
        return rest;
    }

    TextStep Stop(ReadOnlySpan<char> before)
    {
        Stopped = true;
        _held = 0;
        return new TextStep(before.IsEmpty ? "" : new string(before), true);
    }

    void Hold(ReadOnlySpan<char> tail)
    {
        if (_window.Length < tail.Length) _window = new char[Math.Max(tail.Length, 2 * _window.Length)];
        tail.CopyTo(_window);
        _held = tail.Length;
    }

    /// <summary>Where the earliest stop string begins in <paramref name="text"/>, or -1.</summary>
    int FirstStop(ReadOnlySpan<char> text)
    {
        int first = -1;
        foreach (string stop in _stops)
        {
            ReadOnlySpan<char> scope = first < 0 ? text : text[..Math.Min(text.Length, first + stop.Length - 1)];
            int at = scope.IndexOf(stop.AsSpan(), StringComparison.Ordinal);
            if (at >= 0 && (first < 0 || at < first)) first = at;
        }
        return first;
    }

    /// <summary>
    /// The length of the longest end of <paramref name="text"/> that a stop string begins with (a stop string's proper
    /// prefix), or 1 for a lone high surrogate (half a character).
    /// </summary>
    int HeldSuffix(ReadOnlySpan<char> text)
    {
        int hold = text.Length > 0 && char.IsHighSurrogate(text[^1]) ? 1 : 0;
        foreach (string stop in _stops)
        {
            for (int k = Math.Min(stop.Length - 1, text.Length); k > hold; k--)
            {
                if (text[^k] == stop[0] && text[^k..].SequenceEqual(stop.AsSpan(0, k)))
                {
                    hold = k;
                    break;
                }
            }
        }
        return hold;
    }
}
