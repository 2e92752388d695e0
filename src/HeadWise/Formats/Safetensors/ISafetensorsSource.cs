namespace HeadWise.Formats.Safetensors;

/// <summary>A single safetensors file or a sharded set, under the names the file itself uses.</summary>
internal interface ISafetensorsSource : ITensorSource
{
    /// <summary>The header entry for <paramref name="name"/>; throws InvalidModelFileException when absent.</summary>
    SafetensorsTensorInfo Info(string name);
    IReadOnlyDictionary<string, string> Metadata { get; }
}
