namespace MoeRuntime.Telemetry.Security;

/// <summary>
/// The one rule for request ids a client supplies before they reach logs and spans: 1 to <see cref="MaxLength"/>
/// characters of <c>A-Z a-z 0-9 . _ : -</c>. Anything else (control characters, markup, log-line breaks, long text) is
/// refused with a message naming what is wrong, never echoing the id itself.
/// </summary>
public static class RequestIds
{
    public const int MaxLength = 64;

    /// <summary>The allowed characters, for messages and documentation.</summary>
    public const string Alphabet = "A-Z a-z 0-9 . _ : -";

    /// <summary>Null when <paramref name="id"/> is a valid request id, otherwise why not (without the id's content).</summary>
    public static string? Problem(ReadOnlySpan<char> id)
    {
        if (id.IsEmpty) return "a request id must not be empty";
        if (id.Length > MaxLength) return $"a request id has at most {MaxLength} characters, this one has {id.Length}";
        for (int i = 0; i < id.Length; i++)
            if (!Allowed(id[i]))
                return $"a request id may hold only {Alphabet}; character {i + 1} is not one of them";
        return null;
    }

    public static bool IsValid(ReadOnlySpan<char> id) => Problem(id) is null;

    static bool Allowed(char c) => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or ':' or '-';
}
