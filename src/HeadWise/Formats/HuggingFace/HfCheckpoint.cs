using HeadWise.Formats.Safetensors;
using HeadWise.Models;

namespace HeadWise.Formats.HuggingFace;

/// <summary>
/// A Hugging Face model folder (config.json + model.safetensors or a sharded index) read as canonical tensors.
/// HF checkpoints keep Q/K in the halves RoPE layout; they are passed through unpermuted (spec.Rope = Halves).
/// </summary>
internal sealed class HfCheckpoint : ITensorSource
{
    private readonly MappedTensorSource _tensors;

    private HfCheckpoint(string directory, ModelSpec spec, MappedTensorSource tensors, ISafetensorsSource weights)
    {
        Directory = directory; Spec = spec; _tensors = tensors; WeightsPath = weights.SourcePath;
        var tok = Path.Combine(directory, "tokenizer.json");
        TokenizerJsonPath = File.Exists(tok) ? tok : null;
        Generation = HfGenerationConfig.Read(directory);
    }

    /// <summary>generation_config.json's BOS/EOS, or null when the folder has none.</summary>
    public HfGenerationConfig? Generation { get; }

    public ModelSpec Spec { get; }
    public string Directory { get; }
    /// <summary>model.safetensors, or model.safetensors.index.json for a sharded checkpoint.</summary>
    public string WeightsPath { get; }
    /// <summary>The folder's tokenizer.json, or null when there is none.</summary>
    public string? TokenizerJsonPath { get; }

    /// <summary>Opens and fully validates the folder. Deconstructs as <c>var (spec, tensors) = HfCheckpoint.Open(dir)</c>.</summary>
    public static HfCheckpoint Open(string directory)
    {
        if (!System.IO.Directory.Exists(directory)) throw new InvalidModelFileException(directory, "model folder not found");
        var configPath = Path.Combine(directory, "config.json");
        if (!File.Exists(configPath)) throw new InvalidModelFileException(directory, "config.json is missing");
        var (spec, biases) = HfConfig.ParseWithBiases(HfConfig.ReadText(configPath), configPath);

        var weights = OpenWeights(directory);
        try
        {
            var locate = Locator(weights, spec.Architecture);
            var mapped = MappedTensorSource.Build(weights.SourcePath, weights, HfTensorMap.For(spec, biases), locate);
            // Report the element type the weights are actually stored in, not what config.json claims.
            spec = spec with { WeightType = weights.Info(mapped.StoredName("token_embd.weight")).DType };
            return new HfCheckpoint(directory, spec, mapped, weights);
        }
        catch
        {
            weights.Dispose();
            throw;
        }
    }

    public void Deconstruct(out ModelSpec spec, out ITensorSource tensors) { spec = Spec; tensors = this; }

    private static ISafetensorsSource OpenWeights(string directory)
    {
        var single = Path.Combine(directory, "model.safetensors");
        if (File.Exists(single)) return SafetensorsFile.Open(single);
        var index = Path.Combine(directory, "model.safetensors.index.json");
        if (File.Exists(index)) return SafetensorsShards.Open(index);
        throw new InvalidModelFileException(directory,
            "no model.safetensors or model.safetensors.index.json (pytorch_model.bin is not supported; convert it to safetensors)");
    }

    /// <summary>
    /// Finds a tensor by its prefix-free HF name. Checkpoints saved from the task model (LlamaForCausalLM, BertModel
    /// inside BertForMaskedLM, ...) add a prefix; base-model saves do not. Old BERT files say LayerNorm.gamma/beta.
    /// </summary>
    private static Func<string, string?> Locator(ITensorSource weights, string architecture)
    {
        var prefix = architecture switch { "gpt2" => "transformer.", "bert" => "bert.", _ => "model." };
        var byName = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var name in weights.Names)
        {
            var bare = name.StartsWith(prefix, StringComparison.Ordinal) ? name[prefix.Length..] : name;
            if (bare.EndsWith(".gamma", StringComparison.Ordinal)) bare = bare[..^6] + ".weight";
            else if (bare.EndsWith(".beta", StringComparison.Ordinal)) bare = bare[..^5] + ".bias";
            byName.TryAdd(bare, name);
        }
        return bare => byName.GetValueOrDefault(bare);
    }

    public string SourcePath => _tensors.SourcePath;
    public IReadOnlyCollection<string> Names => _tensors.Names;
    public bool Contains(string name) => _tensors.Contains(name);
    public long[] Shape(string name) => _tensors.Shape(name);
    public void ReadFloats(string name, Span<float> destination) => _tensors.ReadFloats(name, destination);
    public void ReadBFloat16(string name, Span<ushort> destination) => _tensors.ReadBFloat16(name, destination);
    public void Dispose() => _tensors.Dispose();
}
