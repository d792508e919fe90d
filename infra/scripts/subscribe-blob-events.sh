#!/usr/bin/env sh
# azd postdeploy hook. On Flex Consumption, blob triggers run from Event Grid only
# (`source: 'EventGrid'` in functions/validate-drop.ts and functions/import-model.ts), so each needs
# an Event Grid subscription on the storage account that calls the app's blob-extension webhook.
# The webhook's key exists only once the code is deployed, hence a hook rather than Bicep.
# Idempotent: re-running updates the subscriptions in place.
set -eu

: "${AZURE_RESOURCE_GROUP:?run through azd (azd up / azd deploy), which sets the environment}"
: "${AZURE_FUNCTION_APP_NAME:?}"
: "${AZURE_STORAGE_ACCOUNT:?}"

topic="${AZURE_STORAGE_ACCOUNT}-blob-events"
storage_id=$(az storage account show -g "$AZURE_RESOURCE_GROUP" -n "$AZURE_STORAGE_ACCOUNT" --query id -o tsv)
location=$(az storage account show -g "$AZURE_RESOURCE_GROUP" -n "$AZURE_STORAGE_ACCOUNT" --query location -o tsv)

if ! az eventgrid system-topic show -g "$AZURE_RESOURCE_GROUP" -n "$topic" >/dev/null 2>&1; then
  az eventgrid system-topic create -g "$AZURE_RESOURCE_GROUP" -n "$topic" --location "$location" \
    --topic-type Microsoft.Storage.StorageAccounts --source "$storage_id" >/dev/null
fi

key=$(az functionapp keys list -g "$AZURE_RESOURCE_GROUP" -n "$AZURE_FUNCTION_APP_NAME" --query systemKeys.blobs_extension -o tsv)
if [ -z "$key" ]; then
  echo "The blobs_extension key of $AZURE_FUNCTION_APP_NAME is not there yet; deploy the code first (azd deploy), then run this again." >&2
  exit 1
fi
host=$(az functionapp show -g "$AZURE_RESOURCE_GROUP" -n "$AZURE_FUNCTION_APP_NAME" --query defaultHostName -o tsv)

subscribe() { # function name, container
  az eventgrid system-topic event-subscription create -g "$AZURE_RESOURCE_GROUP" --system-topic-name "$topic" \
    -n "$1" --endpoint-type webhook \
    --endpoint "https://${host}/runtime/webhooks/blobs?functionName=Host.Functions.$1&code=${key}" \
    --included-event-types Microsoft.Storage.BlobCreated \
    --subject-begins-with "/blobServices/default/containers/$2/" >/dev/null
  echo "Blob events of container $2 now reach $1."
}

subscribe validate-drop datasets
subscribe import-model models-incoming
