using System.Text.Json;

namespace HeadWise.Formats.Safetensors;

/// <summary>
/// A sharded checkpoint: model.safetensors.index.json ({"weight_map": {tensor: shard file}}) plus the shard files
/// beside it. The index is authoritative; every shard it names must exist and hold the tensors it claims.
/// </summary>
internal sealed class SafetensorsShards : ISafetensorsSource
{
    private readonly Dictionary<string, SafetensorsFile> _owner;  // tensor -> shard
    private readonly List<SafetensorsFile> _shards;

    private SafetensorsShards(string indexPath, Dictionary<string, SafetensorsFile> owner, List<SafetensorsFile> shards,
        Dictionary<string, string> metadata)
    {
        SourcePath = indexPath; _owner = owner; _shards = shards; Metadata = metadata;
    }

    public string SourcePath { get; }
    public IReadOnlyDictionary<string, string> Metadata { get; }
    public IReadOnlyList<string> ShardPaths => _shards.Select(s => s.SourcePath).ToList();
    public IReadOnlyCollection<string> Names => _owner.Keys;
    public bool Contains(string name) => _owner.ContainsKey(name);
    public long[] Shape(string name) => Owner(name).Shape(name);
    public SafetensorsTensorInfo Info(string name) => Owner(name).Info(name);
    public void ReadFloats(string name, Span<float> destination) => Owner(name).ReadFloats(name, destination);
    public void ReadBFloat16(string name, Span<ushort> destination) => Owner(name).ReadBFloat16(name, destination);

    private SafetensorsFile Owner(string name) =>
        _owner.TryGetValue(name, out var f) ? f : throw new InvalidModelFileException(SourcePath, $"tensor {ErrorText.Quote(name)} is not in the weight_map");

    public static SafetensorsShards Open(string indexPath)
    {
        var weightMap = ReadWeightMap(indexPath);
        var dir = Path.GetDirectoryName(Path.GetFullPath(indexPath))!;
        var files = new Dictionary<string, SafetensorsFile>(StringComparer.Ordinal);
        var owner = new Dictionary<string, SafetensorsFile>(StringComparer.Ordinal);
        try
        {
            foreach (var (tensor, shard) in weightMap)
            {
                if (!files.TryGetValue(shard, out var file))
                {
                    // Shards are plain file names beside the index; refuse paths that would leave the folder.
                    if (shard.Length == 0 || Path.GetFileName(shard) != shard)
                        throw new InvalidModelFileException(indexPath, $"weight_map shard {ErrorText.Quote(shard)} (for tensor {ErrorText.Quote(tensor)}) is not a plain file name");
                    var shardPath = Path.Combine(dir, shard);
                    if (!BoundedFile.IsRegularFile(shardPath))
                        throw new InvalidModelFileException(indexPath, $"shard {ErrorText.Quote(shard)} named in weight_map (for tensor {ErrorText.Quote(tensor)}) is missing");
                    files[shard] = file = SafetensorsFile.Open(shardPath);
                }
                if (!file.Contains(tensor))
                    throw new InvalidModelFileException(indexPath, $"weight_map puts tensor {ErrorText.Quote(tensor)} in shard {ErrorText.Quote(shard)}, which does not hold it");
                owner[tensor] = file;
            }
        }
        catch
        {
            foreach (var f in files.Values) f.Dispose();
            throw;
        }
        var metadata = files.Values.SelectMany(f => f.Metadata).GroupBy(kv => kv.Key).ToDictionary(g => g.Key, g => g.First().Value);
        return new SafetensorsShards(indexPath, owner, files.Values.ToList(), metadata);
    }

    private static List<(string Tensor, string Shard)> ReadWeightMap(string indexPath)
    {
        {
            using var doc = BoundedFile.ReadJson(indexPath, "safetensors index", FileLimits.JsonConfig);
            if (doc.RootElement.ValueKind != JsonValueKind.Object || !doc.RootElement.TryGetProperty("weight_map", out var map)
                || map.ValueKind != JsonValueKind.Object)
                throw new InvalidModelFileException(indexPath, "missing object field 'weight_map'");
            var list = new List<(string, string)>();
            foreach (var p in map.EnumerateObject())
            {
                if (p.Value.ValueKind != JsonValueKind.String)
                    throw new InvalidModelFileException(indexPath, $"weight_map entry {ErrorText.Quote(p.Name)} must be a shard file name");
                list.Add((p.Name, p.Value.GetString()!));
            }
            if (list.Count == 0) throw new InvalidModelFileException(indexPath, "weight_map is empty");
            return list;
        }
    }

    public void Dispose()
    {
        foreach (var f in _shards) f.Dispose();
    }
}
