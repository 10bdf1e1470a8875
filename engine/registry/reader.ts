// Reads the registry into a snapshot of the serving slots with their artifact locations. A
// version's location never changes, so it is fetched once per version, or not at all when a live
// object already records it: a steady-state cycle, even a fresh process's first, costs one
// request per page of registered models.
import { createHash } from "node:crypto";
import type { MlflowClient } from "./mlflow-client";
import type { RegisteredModel } from "./schemas";
import type { EngineSettings } from "../settings";
import { mapLimited, PARALLEL_REQUESTS } from "../concurrency";
import { confirmAbsence, type UnconfirmedAbsence } from "../deletion";
import {
  modelFilter,
  servingSlots,
  type RegistrySnapshot,
  type ResolvedSlot,
  type VersionLocation,
} from "./slots";
import { ANNOTATIONS, type ServingObject } from "../vocabulary";

// A model deleted and registered again restarts at version 1: its creation time is in the key.
const locationKey = (model: string, version: string, modelCreated: number) =>
  `${model}\u0000${version}\u0000${modelCreated}`;

/**
 * What a read saw of a model: its last_updated_timestamp, and a digest of its whole record, since
 * MLflow moves an alias or sets a model tag without updating that timestamp.
 */
interface SeenModel {
  updated: number;
  digest: string;
}

// Every record passes the same schema, so its keys come in one order: plain JSON compares (a
// sorted-key digest costs four times the CPU, 15 µs a model, on every full read).
const recordDigest = (model: RegisteredModel) =>
  createHash("sha1").update(JSON.stringify(model)).digest("hex");

const seenOf = (model: RegisteredModel): SeenModel => ({
  updated: model.last_updated_timestamp ?? 0,
  digest: recordDigest(model),
});

export class RegistryReader {
  /** Locations of the versions in service at the last snapshot (others are forgotten). */
  private locations = new Map<string, VersionLocation>();
  /** Each model as it was last read. */
  private seen = new Map<string, SeenModel>();
  /** Where the rolling read goes on (a page token; empty: from the first page). */
  private rollingPageToken = "";
  /** Whether this owner manages the model (its include and exclude patterns). */
  readonly manages: (model: string) => boolean;

  constructor(
    private readonly client: MlflowClient,
    private readonly settings: EngineSettings,
  ) {
    this.manages = modelFilter(settings);
  }

  /** Takes the locations the live objects record (a version is identified by model, number and model creation). */
  seed(objects: ServingObject[]): void {
    for (const object of objects) {
      const a = object.metadata.annotations ?? {};
      const [model, version, created] = [
        a[ANNOTATIONS.modelName],
        a[ANNOTATIONS.version],
        Number(a[ANNOTATIONS.modelCreated]),
      ];
      const [source, runId, artifactUri] = [
        a[ANNOTATIONS.source],
        a[ANNOTATIONS.runId],
        a[ANNOTATIONS.artifactUri],
      ];
      if (!model || !version || !Number.isFinite(created) || !source || runId === undefined || !artifactUri)
        continue;
      this.locations.set(locationKey(model, version, created), {
        source,
        runId,
        artifactUri,
        modelCreated: created,
      });
    }
  }

  /**
   * Every registered model. Throws a RegistryError when any page or lookup fails: a partial
   * snapshot is never returned. `served` names the models that own objects now: one the listing
   * left out is read directly before the snapshot lets its objects go (engine/deletion.ts).
   */
  async snapshot(served: Iterable<string> = []): Promise<RegistrySnapshot> {
    const listed = await this.client.listRegisteredModels();
    const names = new Set(listed.map((m) => m.name));
    const missing = [...new Set(served)].filter((model) => this.manages(model) && !names.has(model));
    const { found, unconfirmed } = await confirmAbsence(this.client, missing);
    const models = [...listed, ...found];
    const { snapshot, locations } = await this.resolve(models, unconfirmed);
    // Only the versions in service stay cached; a model read in full is up to date as of now.
    this.locations = locations;
    this.seen = new Map(models.map((m) => [m.name, seenOf(m)]));
    return snapshot;
  }

  /**
   * The managed models updated since they were last read, from one page of the most recently
   * updated (a stage transition, a new or deleted version bumps a model's timestamp); undefined
   * when the whole page changed, since more may have and only a full read can tell.
   */
  async recentChanges(pageSize: number): Promise<RegisteredModel[] | undefined> {
    const recent = await this.client.recentlyUpdatedModels(pageSize);
    const changed = recent.filter(
      (m) => (m.last_updated_timestamp ?? 0) > (this.seen.get(m.name)?.updated ?? Number.NEGATIVE_INFINITY),
    );
    if (recent.length === pageSize && changed.length === recent.length) return undefined;
    return changed.filter((m) => this.manages(m.name));
  }

  /**
   * The managed models of the next `pageSize` of the registry (in MLflow's order; after the last
   * page, the first again) whose record differs from when it was last read: an alias moved or a
   * tag changed, which the most recently updated models do not show.
   */
  async rollingChanges(pageSize: number): Promise<RegisteredModel[]> {
    let page = await this.client.registeredModelsPage(pageSize, this.rollingPageToken || undefined);
    // A full last page still gives a token, to a page with nothing: the first page is next.
    if (page.items.length === 0 && this.rollingPageToken)
      page = await this.client.registeredModelsPage(pageSize);
    this.rollingPageToken = page.nextPageToken ?? "";
    return page.items.filter(
      (m) => this.manages(m.name) && this.seen.get(m.name)?.digest !== recordDigest(m),
    );
  }

  /** A snapshot of these models only (read directly, so nothing is unconfirmed); their versions' locations join the cache. */
  async snapshotOf(models: RegisteredModel[]): Promise<RegistrySnapshot> {
    const { snapshot, locations } = await this.resolve(models, []);
    for (const [key, location] of locations) this.locations.set(key, location);
    for (const m of models) this.seen.set(m.name, seenOf(m));
    return snapshot;
  }

  /** The serving slots of `models` with their locations (cached, or read from MLflow). */
  private async resolve(
    models: RegisteredModel[],
    unconfirmed: UnconfirmedAbsence[],
  ): Promise<{ snapshot: RegistrySnapshot; locations: Map<string, VersionLocation> }> {
    const created = new Map(models.map((m) => [m.name, m.creation_timestamp ?? 0]));
    const latest = new Map(
      models.flatMap((m) => m.latest_versions.map((v) => [`${v.name}\u0000${v.version}`, v])),
    );
    const locations = new Map<string, VersionLocation>();
    const locate = async (model: string, versionNumber: string): Promise<VersionLocation> => {
      const modelCreated = created.get(model) ?? 0;
      const key = locationKey(model, versionNumber, modelCreated);
      let location = this.locations.get(key);
      if (!location) {
        const version =
          latest.get(`${model}\u0000${versionNumber}`) ??
          (await this.client.getModelVersion(model, versionNumber));
        const artifactUri = await this.client.getDownloadUri(model, versionNumber);
        location = { source: version.source, runId: version.run_id, artifactUri, modelCreated };
      }
      locations.set(key, location);
      return location;
    };
    const slots = await mapLimited(servingSlots(models, this.settings), PARALLEL_REQUESTS, async (slot) => {
      const location = await locate(slot.model, slot.version);
      if (!slot.candidate) return { ...slot, location } satisfies ResolvedSlot;
      const candidateLocation = await locate(slot.model, slot.candidate.version);
      return { ...slot, location, candidateLocation } satisfies ResolvedSlot;
    });
    return { snapshot: { slots, unconfirmed }, locations };
  }
}
