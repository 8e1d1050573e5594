namespace MoeRuntime.Model.Chat;

/// <summary>
/// A chat template that cannot be used (an unsupported construct or malformed syntax, found when it is parsed) or
/// that refused a conversation while rendering it (<c>raise_exception('...')</c>, whose text is the message).
/// </summary>
public sealed class ChatTemplateException : Exception
{
    public ChatTemplateException(string message)
        : base(message)
    {
    }

    public ChatTemplateException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    internal ChatTemplateException(string message, string? templateName, int? line, bool raisedByTemplate)
        : base(message)
    {
        TemplateName = templateName;
        Line = line;
        RaisedByTemplate = raisedByTemplate;
    }

    /// <summary>The template the error is about, when known.</summary>
    public string? TemplateName { get; }

    /// <summary>The 1-based line of the template the error is about, when known.</summary>
    public int? Line { get; }

    /// <summary>
    /// True when the template itself rejected the conversation with <c>raise_exception</c>: the message is the
    /// template's own and is about the caller's messages (an HTTP front door answers 400 with it).
    /// </summary>
    public bool RaisedByTemplate { get; }
}
