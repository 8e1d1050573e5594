using Microsoft.Extensions.Options;

namespace MoeRuntime.FrontDoor;

/// <summary>Checks the settings at start; each failure is one line naming the setting.</summary>
public sealed class FrontDoorOptionsValidator : IValidateOptions<FrontDoorOptions>
{
    public ValidateOptionsResult Validate(string? name, FrontDoorOptions options)
    {
        var failures = new List<string>();
        const string s = FrontDoorOptions.Section;
        if (options.ApiKey is { } key && (key.Length == 0 || key.Trim() != key))
            failures.Add($"{s}:ApiKey must be non-empty and have no surrounding whitespace");
        if (options.MaxRequestBodyBytes < 1024)
            failures.Add($"{s}:MaxRequestBodyBytes must be at least 1024 (got {options.MaxRequestBodyBytes})");
        if (options.DefaultMaxTokens < 1)
            failures.Add($"{s}:DefaultMaxTokens must be at least 1 (got {options.DefaultMaxTokens})");
        if (options.MaxChoices < 1)
            failures.Add($"{s}:MaxChoices must be at least 1 (got {options.MaxChoices})");
        var names = new HashSet<string>(StringComparer.Ordinal);
        var hashes = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        for (int i = 0; i < options.Tenants.Count; i++)
        {
            TenantOptions t = options.Tenants[i];
            string at = $"{s}:Tenants:{i}";
            if (string.IsNullOrWhiteSpace(t.Name)) failures.Add($"{at}:Name is required");
            else if (!names.Add(t.Name)) failures.Add($"{at}:Name '{t.Name}' is used by another tenant");
            if (t.Keys.Count == 0) failures.Add($"{at}:Keys needs at least one 'sha256:<64 hex digits>' key hash");
            for (int k = 0; k < t.Keys.Count; k++)
            {
                if (!KeyHashes.TryParse(t.Keys[k], out string? hash))
                    failures.Add($"{at}:Keys:{k} must be 'sha256:' followed by 64 hex digits (the SHA-256 of the key), not the key itself");
                else if (!hashes.Add(hash)) failures.Add($"{at}:Keys:{k} is already the key of another tenant");
            }
            Positive(t.RequestsPerMinute, $"{at}:RequestsPerMinute");
            Positive(t.TokensPerMinute, $"{at}:TokensPerMinute");
            Positive(t.MaxConcurrentStreams, $"{at}:MaxConcurrentStreams");
        }
        if (options.ApiKey is { Length: > 0 } apiKey && !hashes.Add(KeyHashes.Hash(apiKey)))
            failures.Add($"{s}:ApiKey is also the key of a configured tenant");
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);

        void Positive(int? value, string setting)
        {
            if (value is < 1) failures.Add($"{setting} must be at least 1 when set (got {value})");
        }
    }
}
