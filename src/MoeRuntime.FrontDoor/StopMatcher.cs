using System.Text;

namespace MoeRuntime.FrontDoor;

/// <summary>
/// Turns a generation's text deltas into the text a client may see: a stop string is matched on the decoded text across
/// token boundaries and never emitted, so text that might be the start of one is held back until it is not; a lone
/// high surrogate (half a character) is held back until its other half arrives. Not thread-safe: one per choice.
/// </summary>
public sealed class StopMatcher
{
    readonly string[] _stops;
    readonly StringBuilder _held = new();

    public StopMatcher(IReadOnlyList<string>? stops)
    {
        _stops = stops is null ? [] : stops.Where(s => s.Length > 0).ToArray();
    }

    /// <summary>True once a stop string was seen; later deltas are ignored.</summary>
    public bool Stopped { get; private set; }

    /// <summary>Adds <paramref name="delta"/> and returns what can be emitted now (possibly empty).</summary>
    public string Append(string delta)
    {
        if (Stopped || delta.Length == 0) return "";
        string text;
        if (_held.Length == 0) text = delta;
        else
        {
            _held.Append(delta);
            text = _held.ToString();
            _held.Clear();
        }
        int stopAt = -1;
        foreach (string stop in _stops)
        {
            int at = text.IndexOf(stop, StringComparison.Ordinal);
            if (at >= 0 && (stopAt < 0 || at < stopAt)) stopAt = at;
        }
        if (stopAt >= 0)
        {
            Stopped = true;
            return text[..stopAt];
        }
        int hold = HeldSuffix(text);
        if (hold == 0) return text;
        _held.Append(text.AsSpan(text.Length - hold));
        return text[..^hold];
    }

    /// <summary>At the end of generation (no stop seen): whatever was held back.</summary>
    public string Flush()
    {
        if (Stopped) return "";
        string rest = _held.ToString();
        _held.Clear();
        return rest;
    }

    /// <summary>Length of the longest suffix of <paramref name="text"/> that a stop string starts with, or a lone high surrogate.</summary>
    int HeldSuffix(string text)
    {
        int hold = text.Length > 0 && char.IsHighSurrogate(text[^1]) ? 1 : 0;
        foreach (string stop in _stops)
        {
            for (int k = Math.Min(stop.Length - 1, text.Length); k > hold; k--)
            {
                if (text.AsSpan(text.Length - k).SequenceEqual(stop.AsSpan(0, k)))
                {
                    hold = k;
                    break;
                }
            }
        }
        return hold;
    }
}
