namespace MoeRuntime.FrontDoor;

/// <summary>The front door's settings (section <c>Moe:FrontDoor</c>).</summary>
public sealed class FrontDoorOptions
{
    public const string Section = "Moe:FrontDoor";

    /// <summary>Maps the /v1 OpenAI endpoints when true.</summary>
    public bool Enabled { get; set; } = true;
    /// <summary>One key accepted for the tenant <c>default</c> (<c>moe-silo --api-key</c>); plain text, for a quick start.</summary>
    public string? ApiKey { get; set; }
    /// <summary>Tenants with their hashed keys and limits. With neither these nor <see cref="ApiKey"/>, requests need no key.</summary>
    public List<TenantOptions> Tenants { get; set; } = [];
    /// <summary>Larger request bodies are refused with 413.</summary>
    public long MaxRequestBodyBytes { get; set; } = 1 << 20;
    /// <summary>max_tokens when a request names none (further capped by the context length).</summary>
    public int DefaultMaxTokens { get; set; } = 256;
    /// <summary>Largest <c>n</c> (choices per prompt) a request may ask for.</summary>
    public int MaxChoices { get; set; } = 8;
}

/// <summary>One tenant: who it is, the keys that identify it, and its limits (null = unlimited).</summary>
public sealed class TenantOptions
{
    public string Name { get; set; } = "";
    /// <summary>Each <c>sha256:</c> followed by the 64 hex digits of the SHA-256 of the key's UTF-8 bytes.</summary>
    public List<string> Keys { get; set; } = [];
    public int? RequestsPerMinute { get; set; }
    /// <summary>Prompt tokens plus the tokens a request may generate (max_tokens), reserved when it is admitted.</summary>
    public int? TokensPerMinute { get; set; }
    public int? MaxConcurrentStreams { get; set; }
}
