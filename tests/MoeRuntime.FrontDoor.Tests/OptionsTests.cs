using Microsoft.Extensions.Options;

namespace MoeRuntime.FrontDoor.Tests;

public sealed class OptionsTests
{
    static string[] Failures(FrontDoorOptions o)
    {
        ValidateOptionsResult r = new FrontDoorOptionsValidator().Validate(null, o);
        return r.Failed ? r.Failures.ToArray() : [];
    }

    [Fact]
    public void Defaults_are_valid()
    {
        Assert.Empty(Failures(new FrontDoorOptions()));
    }

    [Fact]
    public void A_plain_key_in_a_tenant_is_refused_naming_the_setting()
    {
        var o = new FrontDoorOptions { Tenants = [new TenantOptions { Name = "acme", Keys = ["sk-plain"] }] };
        string failure = Assert.Single(Failures(o));
        Assert.StartsWith("Moe:FrontDoor:Tenants:0:Keys:0 must be 'sha256:'", failure);
    }

    [Fact]
    public void Limits_must_be_positive_and_names_unique()
    {
        var o = new FrontDoorOptions
        {
            Tenants =
            [
                new TenantOptions { Name = "a", Keys = [KeyHashes.Configured("k1")], RequestsPerMinute = 0 },
                new TenantOptions { Name = "a", Keys = [KeyHashes.Configured("k1")], MaxConcurrentStreams = -1 },
            ],
            MaxRequestBodyBytes = 10,
        };
        string[] failures = Failures(o);
        Assert.Contains(failures, f => f.StartsWith("Moe:FrontDoor:Tenants:0:RequestsPerMinute must be at least 1", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("Moe:FrontDoor:Tenants:1:Name 'a' is used", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("Moe:FrontDoor:Tenants:1:Keys:0 is already", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("Moe:FrontDoor:Tenants:1:MaxConcurrentStreams", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("Moe:FrontDoor:MaxRequestBodyBytes", StringComparison.Ordinal));
    }

    [Fact]
    public async Task An_invalid_setting_stops_the_host_at_start()
    {
        var e = await Assert.ThrowsAsync<OptionsValidationException>(() => FrontDoorHost.StartAsync(settings: new()
        {
            ["Moe:FrontDoor:Tenants:0:Name"] = "acme",
            ["Moe:FrontDoor:Tenants:0:Keys:0"] = "not-a-hash",
        }));
        Assert.Contains("Moe:FrontDoor:Tenants:0:Keys:0", e.Message);
    }

    [Fact]
    public void Key_hashes_are_sha256_hex()
    {
        Assert.Equal("sha256:" + "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", KeyHashes.Configured("test"));
        Assert.True(KeyHashes.TryParse("SHA256:" + new string('A', 64), out string? hash));
        Assert.Equal(new string('a', 64), hash);
        Assert.False(KeyHashes.TryParse("sha256:" + new string('g', 64), out _));
    }
}
