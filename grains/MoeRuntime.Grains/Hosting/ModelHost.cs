using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MoeRuntime.Model;
using MoeRuntime.Model.Configuration;
using MoeRuntime.Model.Chat;
using MoeRuntime.Model.DefaultModel;
using MoeRuntime.Model.Loading;
using MoeRuntime.Model.Tokenization;
using MoeRuntime.Serving.Tiers;
using static TorchSharp.torch;

namespace MoeRuntime.Grains.Hosting;

/// <summary>
/// What one rank loads once at start: the model's config and tokenizer, the dense part of the model
/// for its router, and the tier store that owns the tensors of the experts this rank hosts.
/// </summary>
public sealed class ModelHost : IDisposable
{
    public ModelHost(IOptions<MoeSiloOptions> options, ILoggerFactory loggers)
    {
        MoeSiloOptions o = options.Value;
        ILogger logger = loggers.CreateLogger<ModelHost>();
        long started = System.Diagnostics.Stopwatch.GetTimestamp();
        ModelName = o.ModelName;
        Rank = o.Rank;
        Directory = string.IsNullOrWhiteSpace(o.ModelPath) ? DefaultModelLocation.Directory : Path.GetFullPath(o.ModelPath);
        if (string.IsNullOrWhiteSpace(o.ModelPath) && !DefaultModelWriter.Exists(Directory))
        {
            logger.LogInformation("Writing the built-in model to {Directory}", Directory);
            DefaultModelWriter.Write(Directory);
        }
        Device = ComputeDevices.Resolve(o.Device, logger);
        Config = ModelConfigJson.Load(Directory);
        Tokenizer = TokenizerLoader.Load(Directory, Config, o.Limits.TokenizerRegexTimeout);
        // Refused here, at load, when the checkpoint's template uses a construct the interpreter does not support.
        // A checkpoint of the built-in model (its byte-level tokenizer, no template of its own), embedded or written
        // by `moe model init`, gets the built-in model's template.
        ChatTemplate checkpointTemplate = ChatTemplate.ForCheckpoint(Directory);
        ChatTemplate = ReferenceEquals(checkpointTemplate, ChatTemplate.Plain) && Tokenizer is ByteLevelTokenizer ? ChatTemplate.BuiltInModel : checkpointTemplate;
        DenseModel = ModelLoader.Load(Directory, Device, withExperts: false);
        long storeStarted = System.Diagnostics.Stopwatch.GetTimestamp();
        Checkpoint = ExpertCheckpoint.Open(Directory, ModelName);
        Store = new ExpertTierStore(Checkpoint, new TierBudgets(o.HotBudgetBytes, o.WarmBudgetBytes), Device, loggers.CreateLogger<ExpertTierStore>());
        DefaultTier = o.DefaultTier;
        StoreSetupDuration = System.Diagnostics.Stopwatch.GetElapsedTime(storeStarted);
        LoadDuration = System.Diagnostics.Stopwatch.GetElapsedTime(started);
        logger.LogInformation("Rank {Rank} serves model {Model} from {Directory} on {Device}: {Layers} layers x {Experts} experts",
            Rank, ModelName, Directory, Device.type, Config.LayerCount, Config.ExpertCount);
    }

    public string ModelName { get; }
    public int Rank { get; }
    public string Directory { get; }
    public Device Device { get; }
    public ModelConfig Config { get; }
    public ITextTokenizer Tokenizer { get; }
    /// <summary>
    /// How chat messages become a prompt: the checkpoint's <c>chat_template</c>, the built-in model's own template for a
    /// checkpoint with the built-in byte-level tokenizer and no template, or <see cref="ChatTemplate.Plain"/> for any
    /// other checkpoint without one.
    /// </summary>
    public ChatTemplate ChatTemplate { get; }
    /// <summary>Embeddings, attention, gates, norms and head; the experts live in expert grains.</summary>
    public MoeModel DenseModel { get; }
    /// <summary>How long loading the config, tokenizer, dense model and tier store took.</summary>
    public TimeSpan LoadDuration { get; }
    /// <summary>Of <see cref="LoadDuration"/>, how long opening the expert checkpoint and setting up the tier store took.</summary>
    public TimeSpan StoreSetupDuration { get; }
    public ExpertCheckpoint Checkpoint { get; }
    public ExpertTierStore Store { get; }
    /// <summary>Tier of experts the rank's TierSet does not name.</summary>
    public Tier DefaultTier { get; }

    /// <summary>Throws <see cref="MoeRequestException"/> unless this rank serves <paramref name="model"/>.</summary>
    public void EnsureServes(string model)
    {
        if (model != ModelName)
            throw new MoeRequestException(MoeErrorCode.UnknownModel, $"model '{model}' is not served here; this cluster serves '{ModelName}'");
    }

    public void Dispose()
    {
        DenseModel.Dispose();
        Store.Dispose();
        Checkpoint.Dispose();
    }
}
