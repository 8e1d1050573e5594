namespace MoeRuntime.Grains.Routing;

/// <summary>
/// The tokenizer failed on a prompt for a reason other than the prompt being refused (its regex timeout): a fault of the
/// tokenizer or its files. The message never carries the prompt; the inner exception is the tokenizer's.
/// </summary>
public sealed class TokenizationFailedException(Exception cause)
    : Exception($"the tokenizer failed on the prompt ({cause.GetType().Name})", cause);
